import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BATCH_KEY_METADATA,
  buildPrAnalysisRequest,
  type CompatibleBatchClient,
  DEFAULT_GROQ_BATCH_CONFIG,
  DEFAULT_OPENAI_BATCH_CONFIG,
  DEFAULT_STRICT_MODELS,
  GroqBatchClient,
  OpenAiBatchClient,
  type PromptRegistry,
  type ProviderBatch,
  type PrForAnalysis,
  writeBatchInputFiles,
} from '#groq-batch';
import type { LineBuilder } from './batch-assembler.js';
import type { SubmissionEnv } from './pipeline-settings.js';
import type { BatchInputLine, BatchProviderPort, KeyedProviderBatch, ProviderBatchRef, UploadedInputFile } from './provider-port.js';
import { modelRefOf } from './providers/model-ref.js';

export function groqClientFrom(
  env: Pick<SubmissionEnv, 'GROQ_API_KEY' | 'GROQ_BASE_URL' | 'GROQ_TIMEOUT_MS' | 'GROQ_COMPLETION_WINDOW' | 'BATCH_MAX_BYTES' | 'GROQ_LIST_SETTLE_MS'>,
): GroqBatchClient {
  return new GroqBatchClient({
    ...DEFAULT_GROQ_BATCH_CONFIG,
    // Checked before any client is made (`configuredProviders`); an empty key is refused by the client itself.
    apiKey: env.GROQ_API_KEY ?? '',
    baseURL: env.GROQ_BASE_URL,
    timeoutMs: env.GROQ_TIMEOUT_MS,
    completionWindow: env.GROQ_COMPLETION_WINDOW,
    maxBytesPerFile: env.BATCH_MAX_BYTES,
    listSettleMs: env.GROQ_LIST_SETTLE_MS,
  });
}

export function openAiClientFrom(env: Pick<SubmissionEnv, 'OPENAI_API_KEY' | 'OPENAI_BASE_URL' | 'OPENAI_TIMEOUT_MS' | 'OPENAI_LIST_SETTLE_MS' | 'BATCH_MAX_BYTES'>): OpenAiBatchClient {
  return new OpenAiBatchClient({
    ...DEFAULT_OPENAI_BATCH_CONFIG,
    // Checked before any client is made (`configuredProviders`); an empty key is refused by the client itself.
    apiKey: env.OPENAI_API_KEY ?? '',
    baseURL: env.OPENAI_BASE_URL,
    timeoutMs: env.OPENAI_TIMEOUT_MS,
    listSettleMs: env.OPENAI_LIST_SETTLE_MS,
    maxBytesPerFile: Math.min(DEFAULT_OPENAI_BATCH_CONFIG.maxBytesPerFile, env.BATCH_MAX_BYTES),
  });
}

const refOf = (batch: ProviderBatch): ProviderBatchRef => ({
  providerBatchId: batch.id,
  inputFileId: batch.input_file_id,
  status: batch.status,
  createdAt: batch.created_at,
});

/** Our input files are named `<batch key>-<n>.jsonl` (see `writeBatchInputFiles`). */
const INPUT_FILE_NAME = /^(cascade-[0-9a-f]{40})-\d+\.jsonl$/;

/**
 * Submission through a Files + Batches API (Groq's, OpenAI's): JSONL written to a temp file, streamed up,
 * batch created under its key, which travels in the batch's metadata.
 */
export class FileBatchSubmissionProvider implements BatchProviderPort {
  constructor(
    private readonly client: CompatibleBatchClient,
    private readonly limits: { maxLines: number; maxBytes: number },
  ) {}

  async findByKey(batchKey: string): Promise<ProviderBatchRef[]> {
    return (await this.client.findBatchesByKey(batchKey)).map(refOf);
  }

  async upload(request: { batchKey: string; lines: Iterable<BatchInputLine> | AsyncIterable<BatchInputLine> }): Promise<string> {
    const dir = mkdtempSync(join(tmpdir(), 'cascade-batch-'));
    try {
      const files = await writeBatchInputFiles(request.lines, dir, this.limits, request.batchKey);
      // The assembler sizes batches below the limits; two files would mean two provider batches for one key.
      if (files.length !== 1) {
        throw new Error(`batch ${request.batchKey} needs ${files.length} input files: lower BATCH_MAX_LINES or BATCH_MAX_BYTES`);
      }
      return await this.client.uploadFile(files[0]!.path);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  async create(request: { batchKey: string; inputFileId: string; metadata: Record<string, string>; mayCreate?: () => Promise<boolean> }): Promise<ProviderBatchRef> {
    return refOf(
      await this.client.createBatch({ inputFileId: request.inputFileId, batchKey: request.batchKey, metadata: request.metadata, mayCreate: request.mayCreate }),
    );
  }

  async cancel(providerBatchId: string): Promise<string> {
    return (await this.client.cancelBatch(providerBatchId)).status;
  }

  async retrieve(providerBatchId: string): Promise<ProviderBatchRef> {
    return refOf(await this.client.retrieveBatch(providerBatchId));
  }

  async deleteFile(fileId: string): Promise<void> {
    await this.client.deleteFile(fileId);
  }

  async *listKeyed(options: { sinceSeconds?: number } = {}): AsyncIterable<KeyedProviderBatch> {
    const seen = new Set<string>();
    let cursor: string | undefined;
    for (;;) {
      const page = await this.client.listBatches(cursor ? { cursor } : {});
      for (const batch of page.data) {
        // Newest first: the rest of the list is older still.
        if (options.sinceSeconds !== undefined && batch.created_at < options.sinceSeconds) return;
        const batchKey = batch.metadata?.[BATCH_KEY_METADATA];
        if (batchKey) yield { ...refOf(batch), batchKey };
      }
      if (!page.nextCursor || seen.has(page.nextCursor)) return;
      seen.add(page.nextCursor);
      cursor = page.nextCursor;
    }
  }

  async listInputFiles(): Promise<UploadedInputFile[]> {
    return (await this.client.listFiles()).flatMap((file) => {
      const key = INPUT_FILE_NAME.exec(file.filename ?? '')?.[1];
      return key && file.purpose === 'batch' ? [{ fileId: file.id, batchKey: key, createdAt: file.created_at ?? 0 }] : [];
    });
  }
}

/**
 * The PR-analysis request for one stored request, on the batch's model (sent by its provider's name for it),
 * output budget and prompt version (read from `prompts`), as a chat-completions body.
 */
export function prAnalysisLineBuilder(prompts: PromptRegistry, strictModels: readonly string[] = DEFAULT_STRICT_MODELS): LineBuilder {
  return (item, batch) => {
    const model = modelRefOf(batch.model).name;
    const pr = item.pr as unknown as Omit<PrForAnalysis, 'repo'>;
    return {
      customId: item.metadata.requestId,
      body: buildPrAnalysisRequest(
        {
          repo: item.metadata.repo,
          title: pr.title,
          body: pr.body,
          author: pr.author,
          labels: pr.labels ?? [],
          additions: pr.additions ?? 0,
          deletions: pr.deletions ?? 0,
          changedFiles: pr.changedFiles ?? 0,
          reviews: pr.reviews ?? [],
        },
        { model, maxTokens: batch.max_tokens, promptVersion: batch.prompt_version, strictModels, registry: prompts },
      ),
    };
  };
}

/**
 * The same request for OpenAI: strict structured outputs on the models that take them, and the output budget
 * as `max_completion_tokens` (OpenAI's reasoning models refuse `max_tokens`; the others read both).
 */
export function openAiLineBuilder(prompts: PromptRegistry, strictModels: readonly string[] = DEFAULT_OPENAI_BATCH_CONFIG.strictModels): LineBuilder {
  const chat = prAnalysisLineBuilder(prompts, strictModels);
  return (item, batch) => {
    const line = chat(item, batch);
    const { max_tokens: budget, ...body } = line.body as Record<string, unknown> & { max_tokens: number };
    return { customId: line.customId, body: { ...body, max_completion_tokens: budget } };
  };
}
