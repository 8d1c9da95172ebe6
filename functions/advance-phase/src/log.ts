// JSON logs, one line per decision; LOG_LEVEL picks the floor (trace..fatal, silent). Every line
// written while an event is handled carries that event's trace context and id (see trace.ts).
import { AsyncLocalStorage } from 'node:async_hooks';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** The fields of the event being handled, for every log line written meanwhile. */
export const eventContext = new AsyncLocalStorage<Record<string, string>>();

/** `destination`: stdout unless given (tests read the lines). */
export function createLogger(level = process.env.LOG_LEVEL ?? 'info', destination?: DestinationStream): Logger {
  const options = {
    name: 'advance-phase',
    level,
    base: { service: 'advance-phase' },
    mixin: () => eventContext.getStore() ?? {},
  };
  return destination ? pino(options, destination) : pino(options);
}
