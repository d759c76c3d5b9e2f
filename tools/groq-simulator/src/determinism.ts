import { createHash, randomBytes } from 'node:crypto';

function digestOf(seed: number, parts: ReadonlyArray<string | number>): Buffer {
  return createHash('sha256').update(`${seed}\u0000${parts.join('\u0000')}`).digest();
}

/**
 * Decisions come from a hash of the seed and what is decided about, never from call order, so the same
 * seed, request and model give the same outcome however lines are scheduled.
 */
export function seededUnit(seed: number, ...parts: ReadonlyArray<string | number>): number {
  return digestOf(seed, parts).readUInt32BE(0) / 2 ** 32;
}

/** Up to eight independent rolls in [0, 1) from one hash, for the decisions about one subject. */
export function seededRolls(seed: number, parts: ReadonlyArray<string | number>, count: number): number[] {
  const digest = digestOf(seed, parts);
  return Array.from({ length: Math.min(count, 8) }, (_, i) => digest.readUInt32BE(i * 4) / 2 ** 32);
}

export function contentDigest(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 22);
}

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

// Ids are minted per output line: draw randomness in blocks rather than one system call each.
let randomPool = Buffer.alloc(0);
let randomAt = 0;
function randomBlock(size: number): Buffer {
  if (randomAt + size > randomPool.length) {
    randomPool = randomBytes(16 * 1024);
    randomAt = 0;
  }
  const block = randomPool.subarray(randomAt, randomAt + size);
  randomAt += size;
  return block;
}

/** Groq's id shape: a prefix and a 26-character lowercase ULID (`file_01jh6x76wtemjr74t1fh0faj5t`). */
export function ulidId(prefix: string, timeMs = Date.now()): string {
  let time = '';
  let rest = Math.floor(timeMs);
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[rest % 32]! + time;
    rest = Math.floor(rest / 32);
  }
  const random = randomBlock(16);
  let tail = '';
  for (let i = 0; i < 16; i++) tail += CROCKFORD[random[i]! % 32];
  return `${prefix}_${time}${tail}`;
}
