/**
 * A fresh temporary directory for Unix sockets (`fs.mkdtemp` under the OS temp dir), removed
 * with everything in it by `close()`. Socket paths stay short: Linux allows 107 bytes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface SocketDir {
  readonly dir: string;
  /** A path in the directory for a socket called `name` (nothing is created). */
  path(name: string): string;
  /** Removes the directory and its sockets. */
  close(): Promise<void>;
}

export async function socketDir(): Promise<SocketDir> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sy-'));
  return {
    dir,
    path: (name) => path.join(dir, `${name}.sock`),
    close: () => rm(dir, { recursive: true, force: true }),
  };
}
