// Trace context in the function's log lines, as Knative delivers it: the W3C `traceparent`
// header in binary mode, the CloudEvent's `traceparent` attribute in structured mode.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../functions/advance-phase/src/app.js';
import { createLogger } from '../../functions/advance-phase/src/log.js';
import { Metrics } from '../../functions/advance-phase/src/metrics.js';
import { example, post, serve, type Served } from '../support/http.js';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const lines: Record<string, unknown>[] = [];
let server: Served;

beforeAll(async () => {
  const destination = { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) };
  const app = createApp({
    kube: null,
    auth: null,
    log: createLogger('info', destination),
    metrics: new Metrics({ processMetrics: false }),
    maxBodyBytes: 64 * 1024,
    sweep: { pageSize: 10, concurrency: 2 },
    waitMode: 'retry-after',
  });
  server = await serve(app);
});
afterAll(() => server.close());

/** The log lines written for the event with this id. */
const linesOf = (id: string) => lines.filter((l) => l['id'] === id);

describe('every decision log line carries the trace context and the event id', () => {
  it('binary mode: the traceparent header', async () => {
    const event = { ...example('update-due'), id: 'trace-binary' };
    await post(server.url, event, 'binary', { traceparent: TRACEPARENT });
    expect(linesOf('trace-binary')).toEqual([
      expect.objectContaining({
        traceparent: TRACEPARENT,
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
        decision: expect.objectContaining({ kind: 'advance' }),
      }),
    ]);
  });

  it('structured mode: the traceparent attribute', async () => {
    await post(
      server.url,
      { ...example('update-not-due'), id: 'trace-structured', traceparent: TRACEPARENT },
      'structured',
    );
    expect(linesOf('trace-structured')).toEqual([
      expect.objectContaining({
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
        decision: expect.objectContaining({ kind: 'wait' }),
      }),
    ]);
  });

  it('a rejected event and a dead letter too; a malformed traceparent is left out', async () => {
    await post(
      server.url,
      { ...example('not-an-action'), id: 'trace-rejected', traceparent: TRACEPARENT },
      'structured',
    );
    await post(server.url, { ...example('dead-letter'), id: 'trace-dead', traceparent: 'not-a-trace' }, 'structured');
    expect(linesOf('trace-rejected')).toEqual([
      expect.objectContaining({ msg: 'rejected event', traceId: '4bf92f3577b34da6a3ce929d0e0e4736' }),
    ]);
    const [dead] = linesOf('trace-dead');
    expect(dead).toMatchObject({ msg: 'dead-lettered event' });
    expect(dead).not.toHaveProperty('traceparent');
  });
});
