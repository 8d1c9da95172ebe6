// The Action resource as the function reads it. This zod schema is the one source of truth:
// crds/action.yaml mirrors it and test/unit/crd-drift.test.ts plus the integration suite prove
// that both accept and reject the same objects. zod/mini, not classic zod: the same checks in a
// tree-shakable form, ~20 KB in the bundle instead of ~450 KB, which every cold start would parse.
import { en } from 'zod/locales';
import * as z from 'zod/mini';

z.config(en()); // zod/mini carries no messages of its own: `formatIssues` reports these.

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

/** The run's summary in status.state (and `kubectl get actions`' STATE column). */
export const State = z.enum(['Running', 'Paused', 'Expiring', 'Succeeded', 'Failed']);
export type State = z.infer<typeof State>;

// RFC 3339 as the API server checks `format: date-time` (offset required, fraction optional).
const DateTime = z.iso.datetime({ offset: true });

const PhaseName = z
  .string()
  .check(z.minLength(1), z.maxLength(LIMITS.maxPhaseNameLength), z.regex(/\S/, 'a phase name must not be blank'));

export const Spec = z.strictObject({
  phases: z.array(PhaseName).check(z.minLength(1), z.maxLength(LIMITS.maxPhases)),
  delay: z._default(z.int().check(z.minimum(0), z.maximum(LIMITS.maxDelay)), LIMITS.defaultDelay),
  paused: z.optional(z.boolean()),
  ttlSecondsAfterFinished: z.optional(z.int().check(z.minimum(0), z.maximum(LIMITS.maxTtl))),
});
export type Spec = z.infer<typeof Spec>;

/** One `{phase: start}` entry of status.timestamps, exactly the seed's shape. */
export const Timestamp = z
  .record(z.string().check(z.minLength(1)), DateTime)
  .check(z.refine((entry) => Object.keys(entry).length === 1, 'a timestamps entry has exactly one phase'));
export type Timestamp = Record<string, string>;

const Generation = z.int().check(z.minimum(0));

export const Condition = z.object({
  type: z.string().check(z.minLength(1)),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string().check(z.minLength(1)),
  message: z.string(),
  lastTransitionTime: DateTime,
  observedGeneration: z.optional(Generation),
});
export type Condition = z.infer<typeof Condition>;

// Unknown status fields are dropped, not refused: status is ours to write, and the CRD prunes them.
// The API server defaults an absent status to `{timestamps: [], observedGeneration: 0}` (the CRD
// says so too), so every object it serves shows the history a write extends, even before the
// first phase: that is what lets the first write prove, with a JSON Patch `test`, that no phase
// has begun. Generation 0 observed makes kstatus read a new Action as InProgress.
export const Status = z.object({
  phase: z.optional(z.string()),
  timestamps: z._default(z.array(Timestamp), []),
  state: z.optional(State),
  progress: z.optional(z.string()),
  nextPhaseAt: z.optional(DateTime),
  dueSlot: z.optional(DateTime),
  observedGeneration: z._default(Generation, 0),
  conditions: z.optional(z.array(Condition)),
});
export type Status = z.infer<typeof Status>;

const NonEmpty = z.string().check(z.minLength(1));

/** What every Kubernetes object of ours carries; parsed first so a bad spec can still be reported. */
export const Envelope = z.looseObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(KIND),
  metadata: z.looseObject({
    name: NonEmpty,
    namespace: NonEmpty,
    uid: NonEmpty,
    resourceVersion: NonEmpty,
    generation: z.optional(z.int().check(z.minimum(1))),
    creationTimestamp: z.optional(DateTime),
    deletionTimestamp: z.optional(DateTime),
  }),
});
export type Envelope = z.infer<typeof Envelope>;

export const Action = z.extend(Envelope, {
  spec: Spec,
  status: z._default(Status, { timestamps: [], observedGeneration: 0 }),
});
export type Action = z.infer<typeof Action>;

/**
 * `envelope` is the object exactly as it arrived (spec and status untouched by zod): what a
 * write must prove is still on the server.
 */
export type ParsedAction =
  | { kind: 'valid'; action: Action; envelope: Envelope }
  /** An Action whose spec or status the schema refuses: still ours to report on. */
  | { kind: 'invalid'; envelope: Envelope; reason: string };

/** Data that is not an Action of ours at all (another kind, no name, no uid...). */
export interface NotAnAction {
  kind: 'not-an-action';
  reason: string;
}

/** Parses untrusted data. */
export function parseAction(data: unknown): ParsedAction | NotAnAction {
  const envelope = Envelope.safeParse(data);
  if (!envelope.success) return { kind: 'not-an-action', reason: formatIssues(envelope.error) };
  const action = Action.safeParse(data);
  if (!action.success) return { kind: 'invalid', envelope: envelope.data, reason: formatIssues(action.error) };
  return { kind: 'valid', action: action.data, envelope: envelope.data };
}

/** One line per problem, `path: message`, the way kubectl users read API errors. */
export function formatIssues(error: z.core.$ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
}

/** A JSON object (not an array, not null): what an unparsed status must be to be read at all. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
