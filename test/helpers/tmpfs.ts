/**
 * A real small file system for tests of a full disk: a tmpfs of a few MiB mounted on a new
 * temp dir (as root, which CI is), and a filler file that takes every free byte of it.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { tempDir } from './broker';

export interface Tmpfs {
  dir: string;
  /** Writes a file until the file system refuses more (ENOSPC); returns its size in bytes. */
  fill(): number;
  /** Removes the filler file. */
  free(): void;
  /** Bytes still free. */
  freeBytes(): number;
}

export function mountTmpfs(t: TestContext, sizeMiB: number): Tmpfs {
  const dir = tempDir('mom-tmpfs-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `this test needs a real full disk: mounting a ${sizeMiB} MiB tmpfs on ${dir} failed (${(error as Error).message.trim()}). ` +
        'Run the tests as root (CI does), on a system that allows tmpfs mounts.',
    );
  }
  const filler = join(dir, 'filler');
  t.after(() => {
    // Lazy: a broker killed a moment ago may still hold files open.
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir,
    fill() {
      const fd = openSync(filler, 'a');
      const chunk = Buffer.alloc(64 * 1024);
      let written = 0;
      try {
        for (;;) written += writeSync(fd, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
      } finally {
        closeSync(fd);
      }
      return written;
    },
    free() {
      rmSync(filler, { force: true });
    },
    freeBytes() {
      const stats = statfsSync(dir);
      return stats.bavail * stats.bsize;
    },
  };
}
