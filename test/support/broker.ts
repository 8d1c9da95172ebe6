// The ApiServerSource and the Trigger's delivery, as the fault tests need them: an event for every
// version of the Action written (an add for each new uid, an update otherwise), each delivered to
// the function's real handler and retried as config/knative/base/trigger.yaml asks Knative to: a
// 503 comes back after its Retry-After, a failed delivery (a 5xx, or no answer at all from a
// process that died) after a linear backoff whose first step is 0, at most `retry` times. A
// process that dies without closing its connection (its node gone) is noticed only at the
// attempt's timeout.
import type { CloudEventV1 } from 'cloudevents';
import type { Action } from '../../functions/advance-phase/src/action.js';
import { createHandler, EVENT_TYPES } from '../../functions/advance-phase/src/handler.js';
import type { Kube } from '../../functions/advance-phase/src/kube.js';
import { createLogger } from '../../functions/advance-phase/src/log.js';
import { Metrics } from '../../functions/advance-phase/src/metrics.js';
import type { Reply, WaitMode } from '../../functions/advance-phase/src/reply.js';
import type { ModelApi } from './model-api.js';

export const DELIVERY = { retry: 10, backoffMs: 200, timeoutMs: 10_000 };

export interface Delivery {
  id: number;
  type: string;
  data: Action;
  /** Not sent again before this time (epoch ms). */
  notBefore: number;
  /** Attempts that asked for a retry so far. */
  retries: number;
}

/**
 * The function's answer; `failed`: a 500 (the handler threw) or a reset connection (its process
 * died); `timed-out`: no answer at all before the attempt's timeout.
 */
export type Answer = Reply | 'failed' | 'timed-out';

const log = createLogger('silent');
const metrics = new Metrics({ processMetrics: false });

export class Broker {
  readonly pending: Delivery[] = [];
  deadLettered = 0;
  private emitted = 0;
  private ids = 0;
  private readonly uids = new Set<string>();

  constructor(
    private readonly api: ModelApi,
    readonly waitMode: WaitMode,
  ) {
    if (api.store.object) this.enqueue(api.store.object, 0);
  }

  /** An event for each version written since the last call. */
  collect(now: number): void {
    const { emitted } = this.api.store;
    for (; this.emitted < emitted.length; this.emitted++) this.enqueue(emitted[this.emitted] as Action, now);
  }

  /** The deliveries the dispatcher may send at `now`. */
  due(now: number): Delivery[] {
    return this.pending.filter((d) => d.notBefore <= now);
  }

  /**
   * The one it sends first: the earliest due; of those due at once (a carried retry and the
   * update event that waited for the same phase), the oldest or the newest event.
   */
  next(ties: 'oldest' | 'newest' = 'oldest'): Delivery | undefined {
    const sign = ties === 'oldest' ? 1 : -1;
    return this.pending.reduce<Delivery | undefined>(
      (best, d) =>
        !best || d.notBefore < best.notBefore || (d.notBefore === best.notBefore && sign * (d.id - best.id) < 0)
          ? d
          : best,
      undefined,
    );
  }

  take(d: Delivery): void {
    this.pending.splice(this.pending.indexOf(d), 1);
  }

  /** What Knative does with an answer: nothing more, a retry, or a dead letter once retries run out. */
  settle(d: Delivery, answer: Answer, now: number): void {
    const status = typeof answer === 'string' ? 0 : answer.status;
    if (status !== 0 && status < 500) return;
    d.retries++;
    if (d.retries > DELIVERY.retry) {
      this.deadLettered++;
      return;
    }
    const retryAfter = typeof answer === 'string' ? 0 : Number(answer.headers?.['retry-after'] ?? 0) * 1000;
    const noticed = answer === 'timed-out' ? now + DELIVERY.timeoutMs : now;
    d.notBefore = noticed + Math.max(DELIVERY.backoffMs * (d.retries - 1), retryAfter);
    this.pending.push(d);
  }

  /** One attempt through the function's handler, as app.ts hands it the CloudEvent. */
  async deliver(d: Delivery, kube: Kube, now: () => Date): Promise<Answer> {
    const handler = createHandler({
      kube,
      log,
      metrics,
      sweep: { pageSize: 10, concurrency: 2 },
      waitMode: this.waitMode,
      now,
    });
    const event: CloudEventV1<unknown> = {
      specversion: '1.0',
      id: `event-${d.id}`,
      source: 'apiserversource',
      type: d.type,
      data: structuredClone(d.data),
    };
    try {
      return await handler.handle(event, null);
    } catch {
      return 'failed';
    }
  }

  private enqueue(data: Action, now: number): void {
    const type = this.uids.has(data.metadata.uid) ? EVENT_TYPES.update : EVENT_TYPES.add;
    this.uids.add(data.metadata.uid);
    this.pending.push({ id: this.ids++, type, data: structuredClone(data), notBefore: now, retries: 0 });
  }
}
