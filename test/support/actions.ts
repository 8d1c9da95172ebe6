// Plain Action objects for tests of the pure layers.
import { API_VERSION, KIND, type Action, type Status } from '../../functions/advance-phase/src/action.js';

export const T0 = new Date('2026-11-22T10:00:00.000Z');

export const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

export function action(
  spec: Partial<Action['spec']> = {},
  status?: Status,
  meta: Partial<Action['metadata']> = {},
): Action {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: {
      name: 'demo',
      namespace: 'default',
      uid: 'uid-1',
      resourceVersion: '1',
      generation: 1,
      creationTimestamp: T0.toISOString().replace('.000Z', 'Z'),
      ...meta,
    },
    spec: { phases: ['provision', 'configure', 'verify', 'done'], delay: 5, ...spec },
    status: status ?? { timestamps: [], observedGeneration: 0 }, // what the API server defaults an absent status to
  };
}

/** Timestamps for the first phases, started `delay` seconds apart from T0. */
export function begun(phases: string[], delay: number): Record<string, string>[] {
  return phases.map((p, i) => ({ [p]: at(i * delay).toISOString() }));
}
