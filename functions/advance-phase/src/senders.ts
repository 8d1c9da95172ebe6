// The Knative objects that may drive the function, as the SENDERS setting names them. Apart from
// auth.ts so that reading settings does not load the token verifier.

/** A Trigger (the broker filter sends for it) or a PingSource (mtping sends for it). */
export interface SenderRef {
  kind: 'trigger' | 'pingsource';
  namespace: string;
  name: string;
}

/** `kind/namespace/name,...`, or what is wrong with it. */
export function parseSenders(text: string): SenderRef[] | string {
  const refs: SenderRef[] = [];
  for (const item of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [kind, namespace, name, ...rest] = item.split('/');
    if ((kind !== 'trigger' && kind !== 'pingsource') || !namespace || !name || rest.length) {
      return `${JSON.stringify(item)}: expected trigger/<namespace>/<name> or pingsource/<namespace>/<name>`;
    }
    refs.push({ kind, namespace, name });
  }
  return refs;
}
