import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildPrAnalysisRequest,
  DEFAULT_GROQ_BATCH_CONFIG,
  DEFAULT_STRICT_MODELS,
  GroqBatchClient,
  type PrForAnalysis,
  writeBatchInputFiles,
} from '#groq-batch';
import type { LineBuilder } from './batch-assembler.js';
import type { SubmissionEnv } from './pipeline-settings.js';
import type { BatchInputLine, BatchProviderPort, SubmittedProviderBatch } from './provider-port.js';

export function groqClientFrom(env: SubmissionEnv): GroqBatchClient {
  return new GroqBatchClient({
    ...DEFAULT_GROQ_BATCH_CONFIG,
    apiKey: env.GROQ_API_KEY,
    baseURL: env.GROQ_BASE_URL,
    timeoutMs: env.GROQ_TIMEOUT_MS,
    completionWindow: env.GROQ_COMPLETION_WINDOW,
    maxBytesPerFile: env.BATCH_MAX_BYTES,
  });
}

/** Submission through the Groq Batch API: JSONL written to a temp file, streamed up, batch created under its key. */
export class GroqSubmissionProvider implements BatchProviderPort {
  constructor(
    private readonly client: GroqBatchClient,
    private readonly limits: { maxLines: number; maxBytes: number },
  ) {}

  async findByKey(batchKey: string): Promise<SubmittedProviderBatch | null> {
    const batch = await this.client.findBatchByKey(batchKey);
    return batch ? { providerBatchId: batch.id, inputFileId: batch.input_file_id } : null;
  }

  async cancel(providerBatchId: string): Promise<void> {
    await this.client.cancelBatch(providerBatchId);
  }

  async submit(request: { batchKey: string; lines: Iterable<BatchInputLine>; metadata: Record<string, string> }): Promise<SubmittedProviderBatch> {
    const dir = mkdtempSync(join(tmpdir(), 'cascade-batch-'));
    try {
      const files = await writeBatchInputFiles(request.lines, dir, this.limits, request.batchKey);
      // The assembler sizes batches below the limits; two files would mean two provider batches for one key.
      if (files.length !== 1) {
        throw new Error(`batch ${request.batchKey} needs ${files.length} input files: lower BATCH_MAX_LINES or BATCH_MAX_BYTES`);
      }
      const inputFileId = await this.client.uploadFile(files[0]!.path);
      const batch = await this.client.createBatch({ inputFileId, batchKey: request.batchKey, metadata: request.metadata });
      return { providerBatchId: batch.id, inputFileId: batch.input_file_id };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

/** The PR-analysis request for one stored request, on the batch's model, output budget and prompt version. */
export function prAnalysisLineBuilder(strictModels: readonly string[] = DEFAULT_STRICT_MODELS): LineBuilder {
  return (item, batch) => {
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
        { model: batch.model, maxTokens: batch.max_tokens, promptVersion: batch.prompt_version, strictModels },
      ),
    };
  };
}
