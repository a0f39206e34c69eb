/**
 * A small real file system to fill (a full disk, for real): a tmpfs mounted on a new temp dir,
 * as root, unmounted (lazily: a broker killed a moment ago may still hold files) and removed
 * by the cleanup registry. The same as test/helpers/tmpfs.ts, without a test context.
 */
import { closeSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerUndo, run, tryRun } from './cleanup';

export interface Tmpfs {
  dir: string;
  /** Writes a filler file until the file system refuses more (ENOSPC); returns its size. */
  fill(): number;
  /** Removes the filler file. */
  free(): void;
  freeBytes(): number;
}

export function mountTmpfs(sizeMiB: number, prefix = 'mom-chaos-tmpfs-'): Tmpfs {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    run('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0700`, 'tmpfs', dir]);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`a full disk needs a small file system of its own: mounting a ${sizeMiB} MiB tmpfs on ${dir} failed (${(error as Error).message}); run as root`);
  }
  registerUndo(`tmpfs ${dir}`, () => {
    tryRun('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  const filler = join(dir, 'filler');
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
