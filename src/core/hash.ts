/**
 * Partitioning (DESIGN §2): partition = fnv1a32(exchange + "/" + name) mod P.
 * FNV-1a 32-bit over the UTF-8 bytes: stable across versions and languages, documented in
 * the README so other clients can compute it.
 */
const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

export function fnv1a32(text: string): number {
  const bytes = Buffer.from(text, 'utf8');
  let hash = FNV_OFFSET_BASIS;
  for (let i = 0; i < bytes.length; i++) {
    hash ^= bytes[i]!;
    hash = Math.imul(hash, FNV_PRIME) >>> 0;
  }
  return hash >>> 0;
}

export function partitionOf(exchange: string, name: string, partitionCount: number): number {
  return fnv1a32(`${exchange}/${name}`) % partitionCount;
}
