// Start an express app on a free loopback port and send it CloudEvents in either HTTP mode.
import type { Express } from 'express';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';

export interface Served {
  url: string;
  close(): Promise<void>;
}

export async function serve(app: Express): Promise<Served> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) =>
        server.close(() => {
          resolve();
        }),
      ),
  };
}

export type CloudEventJson = Record<string, unknown> & { data?: unknown };

export function example(name: string): CloudEventJson {
  return JSON.parse(
    readFileSync(new URL(`../../examples/events/${name}.json`, import.meta.url), 'utf8'),
  ) as CloudEventJson;
}

export type Mode = 'binary' | 'structured';

/** The same event as Knative would send it: attributes as ce-* headers (binary) or all in the body. */
export function request(event: CloudEventJson, mode: Mode): RequestInit {
  if (mode === 'structured') {
    return { method: 'POST', headers: { 'content-type': 'application/cloudevents+json' }, body: JSON.stringify(event) };
  }
  const { data, datacontenttype, ...attributes } = event;
  const headers: Record<string, string> = {
    'content-type': typeof datacontenttype === 'string' ? datacontenttype : 'application/json',
  };
  for (const [key, value] of Object.entries(attributes)) headers[`ce-${key}`] = String(value);
  return { method: 'POST', headers, body: JSON.stringify(data) };
}

export async function post(url: string, event: CloudEventJson, mode: Mode, headers: Record<string, string> = {}) {
  const init = request(event, mode);
  const res = await fetch(url, { ...init, headers: { ...(init.headers as Record<string, string>), ...headers } });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    text,
    json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined,
  };
}
