/**
 * Reads `mw.metrics()` with a real parser of the Prometheus text format
 * (parse-prometheus-text-format, a port of the official Python client's parser), so the tests
 * check what a scraper would read, not what a regex of ours would.
 *
 * One known bug of that parser is worked around: it merges the series of a histogram that has
 * labels into one and drops their labels, `_sum` and `_count` (its issue #13; the fix, PR #8,
 * was never released). {@link Scrape.histogram} therefore parses the text a second time
 * without the family's `# TYPE` line, so `_bucket`, `_sum` and `_count` come back as plain
 * series with every label kept.
 */
import parsePrometheusTextFormat, { type PrometheusFamily, type PrometheusSample } from 'parse-prometheus-text-format';

/** The parsed exposition, with look-ups that fail loudly when a family or series is missing. */
export interface Scrape {
  readonly families: readonly PrometheusFamily[];
  family(name: string): PrometheusFamily;
  /** The one series of `name` whose labels include `labels`. */
  series(name: string, labels: Record<string, string>): PrometheusSample;
  /** The numeric value of that series. */
  value(name: string, labels?: Record<string, string>): number;
  /** The one histogram series of `name` whose labels include `labels`: buckets in order, sum and count. */
  histogram(name: string, labels: Record<string, string>): Histogram;
}

export interface Histogram {
  /** `[le, cumulative count]` in the order exposed. */
  readonly buckets: ReadonlyArray<readonly [string, number]>;
  readonly sum: number;
  readonly count: number;
}

function matches(sample: PrometheusSample, labels: Record<string, string>): boolean {
  return Object.entries(labels).every(([k, v]) => sample.labels?.[k] === v);
}

export function parseScrape(text: string): Scrape {
  const families = parsePrometheusTextFormat(text);
  const family = (name: string): PrometheusFamily => {
    const found = families.find((f) => f.name === name);
    if (found === undefined) throw new Error(`no metric family ${name} in:\n${text}`);
    return found;
  };
  const series = (name: string, labels: Record<string, string>): PrometheusSample => {
    // Every family of that name: without its TYPE line, a histogram's per-series lines
    // (`_bucket`…, `_sum`, `_count`, then the next series) come back as alternating families.
    family(name);
    const found = families.filter((f) => f.name === name).flatMap((f) => f.metrics.filter((s) => matches(s, labels)));
    if (found.length !== 1) throw new Error(`${found.length} series of ${name} match ${JSON.stringify(labels)}`);
    return found[0] as PrometheusSample;
  };
  const value = (name: string, labels: Record<string, string> = {}): number => Number(series(name, labels).value);
  const histogram = (name: string, labels: Record<string, string>): Histogram => {
    if (family(name).type !== 'HISTOGRAM') throw new Error(`${name} is not a histogram`);
    const untyped = parseScrape(text.split('\n').filter((line) => line !== `# TYPE ${name} histogram`).join('\n'));
    const buckets = untyped.families
      .filter((f) => f.name === `${name}_bucket`)
      .flatMap((f) => f.metrics.filter((s) => matches(s, labels)))
      .map((s) => [s.labels?.le ?? '', Number(s.value)] as const);
    return { buckets, sum: untyped.value(`${name}_sum`, labels), count: untyped.value(`${name}_count`, labels) };
  };
  return { families, family, series, value, histogram };
}
