/** Where the CLI writes: information to stdout, problems to stderr, one line per call. */
export interface Log {
  info(line: string): void;
  error(line: string): void;
}

/** Writes to the process's stdout and stderr. */
export const processLog: Log = {
  info: (line) => void process.stdout.write(`${line}\n`),
  error: (line) => void process.stderr.write(`${line}\n`),
};
