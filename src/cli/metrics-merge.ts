/**
 * One `/metrics` for a cluster: the workers' Prometheus texts merged into one exposition, each
 * metric family's `# HELP` / `# TYPE` once, every sample labelled with its `worker`. Summing
 * across workers is left to PromQL (`sum without (worker) (…)`), the Prometheus convention.
 */

interface Family {
  help: string | undefined;
  type: string | undefined;
  readonly samples: string[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

/** `name{a="b"} 1` → `name{worker="2",a="b"} 1`; `name 1` → `name{worker="2"} 1`. */
export function labelSample(line: string, label: string): string {
  const name = NAME.exec(line)?.[0];
  if (name === undefined) return line;
  const rest = line.slice(name.length);
  if (rest.startsWith('{}')) return `${name}{${label}}${rest.slice(2)}`;
  if (rest.startsWith('{')) return `${name}{${label},${rest.slice(1)}`;
  return `${name}{${label}}${rest}`;
}

/** Merges the texts; `worker` is the label value of each. */
export function mergeMetrics(parts: ReadonlyArray<{ readonly worker: number; readonly text: string }>): string {
  const families = new Map<string, Family>();
  const familyOf = (name: string): Family => {
    let f = families.get(name);
    if (f === undefined) {
      f = { help: undefined, type: undefined, samples: [] };
      families.set(name, f);
    }
    return f;
  };
  for (const { worker, text } of parts) {
    const label = `worker="${worker}"`;
    let current: string | undefined;
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      const meta = /^#\s+(HELP|TYPE)\s+(\S+)\s?(.*)$/.exec(line);
      if (meta !== null) {
        const [, kind, name, value] = meta as unknown as [string, string, string, string];
        current = name;
        const f = familyOf(name);
        if (kind === 'HELP') f.help ??= value;
        else f.type ??= value;
        continue;
      }
      if (line.startsWith('#')) continue;
      const name = NAME.exec(line)?.[0] ?? '';
      // A histogram's `_bucket`, `_sum` and `_count` belong to the family above them.
      const family = current !== undefined && name.startsWith(current) ? current : name;
      familyOf(family).samples.push(labelSample(line, label));
    }
  }
  const out: string[] = [];
  for (const [name, f] of families) {
    if (f.help !== undefined) out.push(`# HELP ${name} ${f.help}`);
    if (f.type !== undefined) out.push(`# TYPE ${name} ${f.type}`);
    out.push(...f.samples);
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}
