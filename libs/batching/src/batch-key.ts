import { createHash } from 'node:crypto';

/**
 * The same items on the same model and pass always give the same key, so a submission that crashed
 * after the provider created the batch finds and adopts that batch instead of paying twice.
 */
export function batchKeyOf(pass: number, model: string, promptVersion: string, items: Array<{ requestId: string; attempt: number }>): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify([pass, model, promptVersion]));
  for (const item of [...items].sort((a, b) => (a.requestId < b.requestId ? -1 : a.requestId > b.requestId ? 1 : 0))) {
    hash.update(`\n${item.requestId}\u0000${item.attempt}`);
  }
  return `cascade-${hash.digest('hex').slice(0, 40)}`;
}

/** A key of the right shape for lines built before their batch has its own key (sizing them for a quota). */
export const DRAFT_BATCH_KEY = `cascade-${'0'.repeat(40)}`;
