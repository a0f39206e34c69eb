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

/** Mounts the tmpfs on `dir` for tests: unmounted and removed when the test ends. */
export function mountTmpfs(t: TestContext, sizeMiB: number): Tmpfs {
  return mountTmpfsOn(tempDir('mom-tmpfs-'), sizeMiB, (unmount) => t.after(unmount));
}

/**
 * Mounts a tmpfs of `sizeMiB` on the empty dir `dir` (removed if the mount fails) and hands
 * `registerUnmount` what unmounts and removes it (the fault suite registers it with its own
 * cleanup, tests with their context).
 */
export function mountTmpfsOn(dir: string, sizeMiB: number, registerUnmount: (unmount: () => void) => void): Tmpfs {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `a full disk needs a real small file system: mounting a ${sizeMiB} MiB tmpfs on ${dir} failed (${(error as Error).message.trim()}). ` +
        'Run as root (CI does), on a system that allows tmpfs mounts.',
    );
  }
  const filler = join(dir, 'filler');
  registerUnmount(() => {
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
