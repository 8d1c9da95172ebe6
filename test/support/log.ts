// The harness's own output: progress lines to stderr when the caller gives no logger, and a
// caught value's message (a rejection need not be an Error).
export const logToStderr = (line: string): void => void process.stderr.write(`${line}\n`);

export const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));
