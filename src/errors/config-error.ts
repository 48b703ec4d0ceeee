/**
 * The one error an invalid config throws, from `proxy()`, the balancer factories and
 * `balancer.add()`. Every message has one shape, so people and tools can read it the same way:
 *
 *     switchyard: <option> <problem>[, e.g. <example>]
 *
 * `<option>` is the option's path (`targets[1].url`, `pool.maxSockets`, `headers['X-A']`);
 * `<problem>` says what was wrong (and, where it helps, what was given: `got 0`); `<example>`
 * is a value that would be accepted. It extends `TypeError` because that is what a bad
 * argument throws in JavaScript, and what switchyard threw before it had a class of its own.
 */

// `Symbol.for`, so the ESM and the CommonJS build recognise each other's errors (as undici does).
const BRAND = Symbol.for('switchyard.ConfigError');

/** An invalid option: thrown when the config is checked, never while requests are served. */
export class ConfigError extends TypeError {
  /** The option's path, e.g. `targets[1].url`, `healthCheck.interval`, `changeOrigin`. */
  readonly option: string;
  /** What was wrong, e.g. `must be an integer >= 1, got 0`. */
  readonly problem: string;
  /** An accepted value, e.g. `timeout: 30000`; `undefined` when none fits in a line. */
  readonly example: string | undefined;

  constructor(option: string, problem: string, example?: string) {
    super(formatConfigMessage(option, problem, example));
    this.name = 'ConfigError';
    this.option = option;
    this.problem = problem;
    this.example = example;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** `instanceof` across builds: true for any error carrying the brand. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
  }
}

/** The one message shape: `switchyard: <option> <problem>[, e.g. <example>]`. */
export function formatConfigMessage(option: string, problem: string, example?: string): string {
  return `switchyard: ${option} ${problem}${example === undefined ? '' : `, e.g. ${example}`}`;
}
