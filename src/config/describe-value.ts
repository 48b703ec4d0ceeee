/**
 * Short, safe rendering of a config value for error messages: enough to spot the mistake,
 * never a dump of a large object (which could carry secrets into logs).
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    const text = value.length > 60 ? `${value.slice(0, 57)}...` : value;
    return JSON.stringify(text);
  }
  if (value === null || value === undefined || typeof value === 'number' || typeof value === 'boolean') {
    return String(value);
  }
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return value.toString();
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value instanceof URL) return `URL ${JSON.stringify(value.href)}`;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === 'string' && name !== '' ? `a ${name}` : 'an object';
  }
  const keys = Object.keys(value);
  return keys.length === 0 ? '{}' : `{ ${keys.slice(0, 5).join(', ')}${keys.length > 5 ? ', ...' : ''} }`;
}
