/**
 * A small real file system to fill (a full disk, for real): test/helpers/tmpfs.ts's tmpfs on a
 * new temp dir, unmounted and removed by the fault suite's cleanup registry instead of a test
 * context.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountTmpfsOn, type Tmpfs } from '../test/helpers/tmpfs';
import { registerUndo } from './cleanup';

export type { Tmpfs };

export function mountTmpfs(sizeMiB: number, prefix = 'mom-chaos-tmpfs-'): Tmpfs {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  // The registry reports an unmount that fails and goes on with the rest.
  return mountTmpfsOn(dir, sizeMiB, (unmount) => registerUndo(`tmpfs ${dir}`, unmount));
}
