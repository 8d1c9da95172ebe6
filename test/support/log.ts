// Where the harness's progress lines go when the caller gives no logger: stderr, one per line.
export const logToStderr = (line: string): void => void process.stderr.write(`${line}\n`);
