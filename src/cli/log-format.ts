/**
 * The two log formats. `text` is for people: one space-separated line per event. `json`
 * (`--log-format json`) is for log shippers: one object per line with stable field names
 * (docs/cli.md lists them), `time` and `level` first.
 */
import type { ProxyError } from '../errors/proxy-error.js';

export type LogFormat = 'text' | 'json';

export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];

/** One JSON line: `{"time":…,"level":…,"msg":…, …fields}` and a newline. */
export function jsonLine(level: 'info' | 'error', msg: string, fields?: Readonly<Record<string, unknown>>): string {
  return `${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`;
}

const UNSAFE = /[\u0000-\u0020\u007f-\u009f]/g;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

const hex = (c: string): string => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;

/** A field of a text line: control characters and spaces escaped, so a request cannot forge lines. */
export function escapeField(text: string): string {
  return text.replace(UNSAFE, hex);
}

/** The last field of a text line may hold spaces; control characters are still escaped. */
export function escapeTail(text: string): string {
  return text.replace(CONTROL, hex);
}

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Why an attempt failed, in a few words for a log line: the underlying error's code and what
 * it names (`ECONNREFUSED 127.0.0.1:3001`, from Node's `connect ECONNREFUSED 127.0.0.1:3001`),
 * else its message. `undefined` when the error has no cause (a status the upstream answered).
 */
export function describeCause(err: ProxyError): string | undefined {
  let cause: unknown = err.cause;
  // undici wraps socket errors: the innermost error says most.
  while (cause instanceof Error && cause.cause instanceof Error && codeOf(cause) === undefined) cause = cause.cause;
  if (cause === undefined || cause === null) return undefined;
  if (!(cause instanceof Error)) return String(cause);
  const code = codeOf(cause);
  const message = cause.message;
  if (code === undefined) return message || cause.name;
  const at = message.indexOf(code);
  if (at !== -1) return message.slice(at);
  return message === '' ? code : `${code} ${message}`;
}
