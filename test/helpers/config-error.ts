/** Assertions on the one config error shape: `switchyard: <option> <problem>[, e.g. <example>]`. */
import { expect } from 'vitest';
import { ConfigError, formatConfigMessage } from '../../src/errors/config-error.js';

/** A pattern matching exactly `message` (for `toThrow`, which otherwise matches a substring). */
export function exactMessage(message: string): RegExp {
  return new RegExp(`^${message.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&')}$`);
}

/**
 * The ConfigError `fn` throws, checked to have the one message shape built from its own
 * fields; fails the test when `fn` throws nothing or anything else.
 */
export function configErrorFrom(fn: () => unknown): ConfigError {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(ConfigError);
  const err = thrown as ConfigError;
  expect(err).toBeInstanceOf(TypeError);
  expect(err.message).toBe(formatConfigMessage(err.option, err.problem, err.example));
  return err;
}

/** Asserts `fn` throws a ConfigError whose message is exactly `message` (or matches a pattern). */
export function expectConfigError(fn: () => unknown, message: string | RegExp): ConfigError {
  const err = configErrorFrom(fn);
  if (typeof message === 'string') expect(err.message).toBe(message);
  else expect(err.message).toMatch(message);
  return err;
}

/** For `toThrow`: a ConfigError whose message is exactly `message`. */
export function aConfigError(message: string): unknown {
  return expect.objectContaining({ name: 'ConfigError', message });
}
