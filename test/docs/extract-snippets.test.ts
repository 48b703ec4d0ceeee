import { describe, expect, it } from 'vitest';
import { extractSnippets, where } from './extract-snippets.js';

describe('extractSnippets', () => {
  it('finds js and ts blocks with the line of their first code line, and skips other languages', () => {
    const md = ['# T', '', '```js', 'a();', '```', '', '```sh', 'ls', '```', '```ts', 'let x = 1;', 'x++;', '```'].join('\n');
    const found = extractSnippets(md, 'docs/t.md');
    expect(found.map((s) => [where(s), s.lang, s.code])).toEqual([
      ['docs/t.md:4', 'js', 'a();\n'],
      ['docs/t.md:11', 'ts', 'let x = 1;\nx++;\n'],
    ]);
  });

  it('reads the words after the language as flags', () => {
    const [s] = extractSnippets('```js fragment\nx;\n```\n', 'f.md');
    expect(s?.flags).toEqual(['fragment']);
  });

  it('keeps a shorter fence inside a longer one as code', () => {
    const md = ['````js', 'const doc = `', '```', '`;', '````'].join('\n');
    expect(extractSnippets(md, 'f.md').map((s) => s.code)).toEqual(['const doc = `\n```\n`;\n']);
  });

  it('refuses a block that is never closed, naming the file', () => {
    expect(() => extractSnippets('```js\nx;\n', 'docs/open.md')).toThrow(/docs\/open\.md/);
  });
});
