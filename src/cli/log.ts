/**
 * Where the CLI writes: information to stdout, problems to stderr, one line per call. With
 * `--log-format json` every line is one JSON object (log-format.ts).
 */
import { jsonLine, type LogFormat } from './log-format.js';

/** Extra fields of a line; JSON output carries them, text output only the message. */
export type LogFields = Readonly<Record<string, unknown>>;

/** A line sink: `info` to stdout, `error` to stderr. */
export interface Log {
  readonly format: LogFormat;
  info(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/**
 * Writes to the process's stdout and stderr. `base` fields start every JSON line after
 * `time`, `level` and `msg` (a worker's `worker: 2`).
 */
export function createLog(format: LogFormat, base?: LogFields): Log {
  const out = process.stdout;
  const err = process.stderr;
  if (format === 'json') {
    const fieldsOf = (fields: LogFields | undefined): LogFields | undefined => (base === undefined ? fields : { ...base, ...fields });
    return {
      format,
      info: (message, fields) => void out.write(jsonLine('info', message, fieldsOf(fields))),
      error: (message, fields) => void err.write(jsonLine('error', message, fieldsOf(fields))),
    };
  }
  return {
    format,
    info: (message) => void out.write(`${message}\n`),
    error: (message) => void err.write(`${message}\n`),
  };
}

/** Text lines on stdout and stderr: what the CLI uses until `--log-format` is known. */
export const processLog: Log = createLog('text');
