// The Action resource as the function reads it. This zod schema is the one source of truth:
// crds/action.yaml mirrors it and test/unit/crd-drift.test.ts plus the integration suite prove
// that both accept and reject the same objects.
import { z } from 'zod';

export const GROUP = 'core.opdemo.net';
export const VERSION = 'v1';
export const KIND = 'Action';
export const PLURAL = 'actions';
export const API_VERSION = `${GROUP}/${VERSION}`;

export const LIMITS = {
  maxPhases: 100,
  maxPhaseNameLength: 128,
  defaultDelay: 5,
  maxDelay: 86_400, // one day: longer waits belong to a scheduler, not a phase walker
  maxTtl: 31_536_000, // one year
} as const;

/** The Succeeded condition's reasons, and the run's summary in status.state. */
export const State = z.enum(['Running', 'Expiring', 'Succeeded', 'Failed']);
export type State = z.infer<typeof State>;

// RFC 3339 as the API server checks `format: date-time` (offset required, fraction optional).
const DateTime = z.iso.datetime({ offset: true });

export const Spec = z.strictObject({
  phases: z
    .array(z.string().min(1).max(LIMITS.maxPhaseNameLength).regex(/\S/, 'a phase name must not be blank'))
    .min(1)
    .max(LIMITS.maxPhases),
  delay: z.int().min(0).max(LIMITS.maxDelay).default(LIMITS.defaultDelay),
  paused: z.boolean().optional(),
  ttlSecondsAfterFinished: z.int().min(0).max(LIMITS.maxTtl).optional(),
});
export type Spec = z.infer<typeof Spec>;

/** One `{phase: start}` entry of status.timestamps, exactly the seed's shape. */
export const Timestamp = z
  .record(z.string().min(1), DateTime)
  .refine((entry) => Object.keys(entry).length === 1, 'a timestamps entry has exactly one phase');
export type Timestamp = Record<string, string>;

export const Condition = z.object({
  type: z.string().min(1),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string().min(1),
  message: z.string(),
  lastTransitionTime: DateTime,
  observedGeneration: z.int().min(0).optional(),
});
export type Condition = z.infer<typeof Condition>;

// Unknown status fields are dropped, not refused: status is ours to write, and the CRD prunes them.
export const Status = z.object({
  phase: z.string().optional(),
  timestamps: z.array(Timestamp).optional(),
  state: State.optional(),
  progress: z.string().optional(),
  nextPhaseAt: DateTime.optional(),
  observedGeneration: z.int().min(0).optional(),
  conditions: z.array(Condition).optional(),
});
export type Status = z.infer<typeof Status>;

/** What every Kubernetes object of ours carries; parsed first so a bad spec can still be reported. */
export const Envelope = z.looseObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(KIND),
  metadata: z.looseObject({
    name: z.string().min(1),
    namespace: z.string().min(1),
    uid: z.string().min(1),
    resourceVersion: z.string().min(1),
    generation: z.int().min(1).optional(),
    deletionTimestamp: DateTime.optional(),
  }),
});
export type Envelope = z.infer<typeof Envelope>;

export const Action = Envelope.extend({ spec: Spec, status: Status.optional() });
export type Action = z.infer<typeof Action>;

export type ParsedAction =
  | { valid: true; action: Action }
  | { valid: false; envelope: Envelope; reason: string };

/** Parses untrusted data. `null` means it is not an Action at all. */
export function parseAction(data: unknown): ParsedAction | { valid: null; reason: string } {
  const envelope = Envelope.safeParse(data);
  if (!envelope.success) return { valid: null, reason: describe(envelope.error) };
  const action = Action.safeParse(data);
  if (!action.success) return { valid: false, envelope: envelope.data, reason: describe(action.error) };
  return { valid: true, action: action.data };
}

/** One line per problem, `path: message`, the way kubectl users read API errors. */
export function describe(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
}
