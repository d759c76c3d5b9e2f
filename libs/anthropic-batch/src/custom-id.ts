import { createHash } from 'node:crypto';

/** Anthropic's rule for a request's custom_id. */
export const ANTHROPIC_CUSTOM_ID_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

const BATCH_KEY = /^cascade-([0-9a-f]{40})$/;
const TAG_LENGTH = 16;
const DIGEST_LENGTH = 22;
const CUSTOM_ID = new RegExp(`^([0-9a-f]{${TAG_LENGTH}})-[A-Za-z0-9_-]{${DIGEST_LENGTH}}$`);

/** The part of a batch key every custom_id of its batch carries: the first 16 hex digits of its hash. */
export function batchKeyTag(batchKey: string): string {
  const match = BATCH_KEY.exec(batchKey);
  if (!match) throw new RangeError(`not a batch key (cascade-<40 hex>): ${JSON.stringify(batchKey.slice(0, 80))}`);
  return match[1]!.slice(0, TAG_LENGTH);
}

/**
 * The custom_id one request travels under, `<tag>-<digest>` (39 characters): the batch key's tag, so a
 * batch whose create answer was lost can be recognised by any one of its results (Anthropic batches
 * carry no metadata), and a digest of our request id, which may be up to 200 arbitrary characters.
 */
export function anthropicCustomId(batchKey: string, requestId: string): string {
  const digest = createHash('sha256').update(requestId).digest('base64url').slice(0, DIGEST_LENGTH);
  return `${batchKeyTag(batchKey)}-${digest}`;
}

/** The batch-key tag a custom_id carries, or null when it is not one of ours. */
export function batchKeyTagOf(customId: string): string | null {
  return CUSTOM_ID.exec(customId)?.[1] ?? null;
}

/**
 * custom_id → request id for one batch, the map results are read back with. Two request ids with
 * the same digest (132 bits: never expected) would make results ambiguous, so that throws.
 */
export function customIdMap(batchKey: string, requestIds: Iterable<string>): Map<string, string> {
  const map = new Map<string, string>();
  for (const requestId of requestIds) {
    const customId = anthropicCustomId(batchKey, requestId);
    const earlier = map.get(customId);
    if (earlier !== undefined && earlier !== requestId) {
      throw new Error(`custom_id ${customId} of batch key ${batchKey} stands for two request ids: ${JSON.stringify(earlier)} and ${JSON.stringify(requestId)}`);
    }
    map.set(customId, requestId);
  }
  return map;
}
