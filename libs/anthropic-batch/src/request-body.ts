import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { ANTHROPIC_CUSTOM_ID_PATTERN, batchKeyTag, batchKeyTagOf } from './custom-id.js';
import { AnthropicBatchError } from './errors.js';

/** One request of a Message Batch: the custom_id it is answered under and its Messages params. */
export interface AnthropicBatchRequest {
  custom_id: string;
  params: object;
}

export interface RequestsBody {
  path: string;
  bytes: number;
  count: number;
}

export interface RequestsBodyLimits {
  maxRequests: number;
  maxBytes: number;
}

/**
 * Writes the create body `{"requests":[…]}` to `path` one request at a time, so a 50,000-request
 * batch is never one string in memory. Checks what Anthropic would refuse at once (custom_id shape
 * and uniqueness, 1..maxRequests requests, maxBytes) and that every custom_id carries the batch key's
 * tag: adoption after a lost create recognises the batch by it.
 */
export async function writeRequestsBody(
  requests: Iterable<AnthropicBatchRequest> | AsyncIterable<AnthropicBatchRequest>,
  path: string,
  batchKey: string,
  limits: RequestsBodyLimits,
): Promise<RequestsBody> {
  const tag = batchKeyTag(batchKey);
  const refuse = (problem: string) => new AnthropicBatchError('create batch', { batchKey }, new Error(problem), { retryable: false });
  const out = createWriteStream(path);
  let failure: Error | null = null;
  out.on('error', (error) => {
    failure ??= error;
  });
  const write = async (text: string) => {
    if (failure) throw failure;
    if (!out.write(text)) await once(out, 'drain');
  };
  const seen = new Set<string>();
  let bytes = 0;
  try {
    await write('{"requests":[');
    bytes += 13;
    for await (const request of requests) {
      const customId = request.custom_id;
      if (!ANTHROPIC_CUSTOM_ID_PATTERN.test(customId)) throw refuse(`custom_id ${JSON.stringify(customId)} does not match ^[a-zA-Z0-9_-]{1,64}$`);
      if (batchKeyTagOf(customId) !== tag) throw refuse(`custom_id ${customId} does not carry the batch key's tag ${tag} (build it with anthropicCustomId)`);
      if (seen.has(customId)) throw refuse(`custom_id ${customId} appears twice`);
      seen.add(customId);
      if (seen.size > limits.maxRequests) throw refuse(`more than ${limits.maxRequests} requests in one batch`);
      const text = `${seen.size > 1 ? ',' : ''}${JSON.stringify({ custom_id: customId, params: request.params })}`;
      bytes += Buffer.byteLength(text);
      if (bytes + 2 > limits.maxBytes) throw refuse(`the request body is above the ${limits.maxBytes}-byte limit: split the batch`);
      await write(text);
    }
    if (seen.size === 0) throw refuse('a batch needs at least one request');
    await write(']}');
    bytes += 2;
    out.end();
    await once(out, 'finish');
    if (failure) throw failure;
  } catch (error) {
    out.destroy();
    throw error instanceof AnthropicBatchError ? error : new AnthropicBatchError('create batch', { batchKey }, error, { retryable: false });
  }
  return { path, bytes, count: seen.size };
}
