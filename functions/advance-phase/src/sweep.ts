// The safety net, fired by a PingSource: advance every Action whose next step is overdue because
// its events were lost (retries exhausted, a dispatcher restart, objects older than the source).
// It lists only unfinished Actions (status.state is a selectable field), so its cost follows the
// running Actions, not every Action ever created.
import { API_VERSION, KIND, parseAction } from './action.js';
import type { Kube } from './kube.js';
import { reconcile } from './reconcile.js';

/** Objects without a status match too: a never-seen Action is swept as well. */
export const UNFINISHED = 'status.state!=Succeeded,status.state!=Failed';

export interface SweepOptions {
  namespace?: string;
  pageSize: number;
  concurrency: number;
  now?: () => Date;
}

export interface SweepResult {
  pages: number;
  listed: number;
  /** Decision kind -> count; `wait` and `done` mean nothing was overdue. */
  decisions: Record<string, number>;
  writes: number;
  reads: number;
  /** Each phase the sweep began after the first of its run: how late against its due time. */
  lateSeconds: number[];
  failures: { action: string; error: string }[];
}

export async function sweep(kube: Kube, opts: SweepOptions): Promise<SweepResult> {
  const result = emptyResult();
  await reconcileListed(kube, UNFINISHED, opts, result);
  return result;
}

export function emptyResult(): SweepResult {
  return { pages: 0, listed: 0, decisions: {}, writes: 0, reads: 0, lateSeconds: [], failures: [] };
}

/** Lists the Actions `fieldSelector` selects, page by page, and reconciles each (adding to `result`). */
export async function reconcileListed(
  kube: Kube,
  fieldSelector: string,
  opts: SweepOptions,
  result: SweepResult,
): Promise<void> {
  let token: string | undefined;
  do {
    const page = await kube.list({
      fieldSelector,
      limit: opts.pageSize,
      ...(opts.namespace ? { namespace: opts.namespace } : {}),
      ...(token ? { continue: token } : {}),
    });
    result.pages++;
    result.listed += page.items.length;
    await forEachLimited(page.items, opts.concurrency, (item) => sweepOne(kube, item, result, opts.now));
    token = page.continue;
  } while (token);
}

async function sweepOne(kube: Kube, item: unknown, result: SweepResult, now?: () => Date): Promise<void> {
  // List items of a custom resource carry apiVersion and kind; default them anyway.
  const parsed = parseAction({ apiVersion: API_VERSION, kind: KIND, ...(item as object) });
  if (parsed.kind === 'not-an-action') {
    result.failures.push({ action: '?', error: parsed.reason });
    return;
  }
  const meta = parsed.envelope.metadata;
  try {
    const outcome = await reconcile(kube, parsed, now, true);
    result.decisions[outcome.decision.kind] = (result.decisions[outcome.decision.kind] ?? 0) + 1;
    result.writes += outcome.writes;
    result.reads += outcome.reads;
    if (outcome.decision.kind === 'advance' && outcome.decision.lateSeconds !== undefined)
      result.lateSeconds.push(outcome.decision.lateSeconds);
  } catch (error) {
    result.failures.push({ action: `${meta.namespace}/${meta.name}`, error: String(error) });
  }
}

/** `fn` on every item, at most `limit` at a time. */
export async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
