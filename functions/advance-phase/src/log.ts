// JSON logs, one line per decision; LOG_LEVEL picks the floor (trace..fatal, silent).
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ name: 'advance-phase', level, base: { service: 'advance-phase' } });
}
