/**
 * A key's place in [0, 1), the same on every replica and every run: 32-bit FNV-1a (its offset
 * basis mixed with `seed`), then a murmur3 finaliser so that keys differing in one character
 * (user-1, user-2) land far apart. Sticky routing uses seed 0; a pipeline's random split uses
 * its own seed, so two splits with different seeds are independent.
 */
export function unitHash(key: string, seed = 0): number {
  let h = 0x811c9dc5 ^ (seed | 0);
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 32;
}
