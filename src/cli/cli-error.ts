import { ConfigError } from '../errors/config-error.js';

/** A problem with the command line or the config file: reported in one line, exit code 2. */
export class CliError extends Error {
  /** The process exit code: 2 for usage and config errors (the convention of most CLIs). */
  readonly exitCode: number;

  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** Whether `err` is a config error thrown by `proxy()`: its class, never its message, decides. */
export function isConfigError(err: unknown): err is ConfigError {
  return err instanceof ConfigError;
}
