// The README's quick start runs this demo (on the switchyard CLI): keep it working.
// `npm test` builds dist/ first.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const demo = fileURLToPath(new URL('../../demo/demo.mjs', import.meta.url));

describe('demo (npm start)', () => {
  it('serves three upstreams round robin through the CLI and exits with --once', async () => {
    const { stdout } = await run(process.execPath, [demo, '--once'], { timeout: 30_000 });
    expect(stdout).toMatch(/switchyard demo listening on http:\/\/127\.0\.0\.1:\d+/);
    const answered = [...stdout.matchAll(/request \d: 200 hello from upstream (\d)/g)].map((m) => m[1]);
    expect(answered).toEqual(['1', '2', '3', '1', '2', '3']);
    // The CLI's own output: its summary, one line per request, and a clean stop.
    expect(stdout).toMatch(/│ switchyard \S+ listening on http:\/\/127\.0\.0\.1:\d+/);
    expect([...stdout.matchAll(/│ \S+Z GET \/hello 200 127\.0\.0\.1:\d+ \d+\.\dms/g)]).toHaveLength(6);
    expect(stdout).toMatch(/│ stopped\n/);
  });
});
