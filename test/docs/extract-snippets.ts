/**
 * Finds the code blocks of a Markdown file that the docs test runs or compiles.
 *
 * A block's info string is its language and then optional words: ```js runs the block,
 * ```js fragment only checks its syntax (see test/README.md for when that is allowed),
 * ```ts compiles it with `tsc --strict`. Other languages (sh, json, text, ...) are not code.
 */
export type SnippetLang = 'js' | 'ts';

export interface Snippet {
  /** Path relative to the repository root, e.g. `docs/options.md`. */
  readonly file: string;
  /** 1-based line in `file` of the block's first code line. */
  readonly line: number;
  readonly lang: SnippetLang;
  /** The words after the language in the info string, e.g. `['fragment']`. */
  readonly flags: readonly string[];
  readonly code: string;
}

const LANGS: Record<string, SnippetLang> = { js: 'js', javascript: 'js', mjs: 'js', ts: 'ts', typescript: 'ts' };

/** Every ```js / ```ts block of `markdown`, in order. */
export function extractSnippets(markdown: string, file: string): Snippet[] {
  const lines = markdown.split(/\r?\n/);
  const found: Snippet[] = [];
  let open: { fence: string; lang: SnippetLang | undefined; flags: string[]; start: number; body: string[] } | undefined;
  lines.forEach((text, i) => {
    if (open === undefined) {
      const m = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)\s*(.*)$/.exec(text);
      if (m === null) return;
      const info = (m[2] ?? '').toLowerCase();
      open = { fence: m[1] as string, lang: LANGS[info], flags: (m[3] ?? '').split(/\s+/).filter(Boolean), start: i + 2, body: [] };
      return;
    }
    const closing = new RegExp(`^ {0,3}${open.fence[0] === '`' ? '`' : '~'}{${open.fence.length},}\\s*$`);
    if (!closing.test(text)) {
      open.body.push(text);
      return;
    }
    if (open.lang !== undefined) {
      found.push({ file, line: open.start, lang: open.lang, flags: open.flags, code: `${open.body.join('\n')}\n` });
    }
    open = undefined;
  });
  if (open !== undefined) throw new Error(`${file}: a code block opened above line ${(open as { start: number }).start} is never closed`);
  return found;
}

/** `file:line`, the way the harness names a snippet in test names and failures. */
export function where(s: Pick<Snippet, 'file' | 'line'>): string {
  return `${s.file}:${s.line}`;
}
