// The README's quick start runs this demo: keep it working. `npm test` builds dist/ first.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const demo = fileURLToPath(new URL('../../demo/demo.mjs', import.meta.url));

describe('demo (npm start)', () => {
  it('serves three upstreams round robin and exits with --once', async () => {
    const { stdout } = await run(process.execPath, [demo, '--once'], { timeout: 30_000 });
    expect(stdout).toMatch(/switchyard demo listening on http:\/\/127\.0\.0\.1:\d+/);
    const answered = [...stdout.matchAll(/request \d: 200 hello from upstream (\d)/g)].map((m) => m[1]);
    expect(answered).toEqual(['1', '2', '3', '1', '2', '3']);
  });
});
