/**
 * Damages a stopped node's database the way a bad disk would: a few pages of
 * `node/broker.db` overwritten with random bytes (the header page is left alone, so the file
 * still opens as SQLite and the damage must be found by looking). Checks with
 * `PRAGMA quick_check` that the file is really damaged, overwriting more pages until it is.
 */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const PAGE = 4096;

function damaged(path: string): string | undefined {
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { fileMustExist: true });
    const rows = db.pragma('quick_check(5)') as Array<{ quick_check: string }>;
    const result = rows.map((r) => r.quick_check).join('; ');
    return result === 'ok' ? undefined : result;
  } catch (error) {
    return (error as Error).message;
  } finally {
    db?.close();
  }
}

/** Returns what was done and what SQLite now says of the file. */
export function corruptDatabase(dataDir: string): string {
  const path = join(dataDir, 'node', 'broker.db');
  if (!existsSync(path)) throw new Error(`no database at ${path}`);
  if (existsSync(`${path}-wal`) && statSync(`${path}-wal`).size > 0) throw new Error(`${path}-wal is not empty: stop the node cleanly first (its pages would hide the damage)`);
  const pages = Math.floor(statSync(path).size / PAGE);
  const hit: number[] = [];
  // Pages 2..: the schema's and tables' roots first, then some in the middle.
  const order = [2, 3, 4, 5, Math.floor(pages / 2), Math.floor(pages / 2) + 1, Math.floor(pages / 3), Math.floor((2 * pages) / 3)].filter((n, i, all) => n >= 2 && n <= pages && all.indexOf(n) === i);
  for (const page of order) {
    const fd = openSync(path, 'r+');
    try {
      writeSync(fd, randomBytes(PAGE), 0, PAGE, (page - 1) * PAGE);
    } finally {
      closeSync(fd);
    }
    hit.push(page);
    const verdict = damaged(path);
    if (hit.length >= 4 && verdict !== undefined) return `pages ${hit.join(', ')} of ${pages} in ${path} (SQLite: ${verdict.slice(0, 160)})`;
  }
  const verdict = damaged(path);
  if (verdict === undefined) throw new Error(`overwrote pages ${hit.join(', ')} of ${path}, and quick_check still says ok`);
  return `pages ${hit.join(', ')} of ${pages} in ${path} (SQLite: ${verdict.slice(0, 160)})`;
}
