import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type GroqSimulator, startGroqSimulator } from '../../../tools/groq-simulator/src/simulator.js';
import { GroqBatchClient, type ProviderBatch } from './client.js';
import { DEFAULT_GROQ_BATCH_CONFIG } from './config.js';
import { writeBatchInputFiles } from './input-file.js';
import { collectOutcomes } from './parse.js';
import { buildPrAnalysisRequest, DEFAULT_STRICT_MODELS, type PrForAnalysis } from './pr-analysis/prompt.js';
import { reconcileBatch } from './reconcile.js';

/** Contract tests: the real groq-sdk (under our client) against the simulator's HTTP API. */
const KEY = 'gsk_contracttestkeyAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

function pr(i: number, body = `Fixes the retry loop #${i}.`): PrForAnalysis {
  return { repo: 'acme/api', title: `fix: retry ${i}`, body, author: 'octocat', labels: [], additions: 10, deletions: 2, changedFiles: 1, reviews: [] };
}

describe('GroqBatchClient against the simulator', () => {
  let sim: GroqSimulator;
  let client: GroqBatchClient;
  let dir: string;

  beforeAll(async () => {
    sim = await startGroqSimulator({ seed: 7 });
    client = new GroqBatchClient({ ...DEFAULT_GROQ_BATCH_CONFIG, apiKey: KEY, baseURL: sim.url, maxRetries: 3, timeoutMs: 10_000 });
    dir = mkdtempSync(join(tmpdir(), 'groq-batch-spec-'));
  });
  afterAll(async () => {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => sim.setFaults({ shuffle: false, missingRate: 0, malformedRate: 0, rateLimitFirst: 0, downloadErrorsFirst: 0, expireAfterFraction: null, unfinishedInErrorFile: false, failValidation: false }));

  async function runBatch(count: number, model = 'openai/gpt-oss-20b', name = `b${Math.random()}`, bodyOf = (i: number) => pr(i)) {
    const ids = Array.from({ length: count }, (_, i) => `req-${name}-${i}`);
    const [file] = await writeBatchInputFiles(
      ids.map((customId, i) => ({ customId, body: buildPrAnalysisRequest(bodyOf(i), { model, maxTokens: 1_024, strictModels: DEFAULT_STRICT_MODELS }) })),
      dir,
      { maxLines: 50_000, maxBytes: 100 * 1024 * 1024 },
      name,
    );
    const inputFileId = await client.uploadFile(file!.path);
    const created = await client.createBatch({ inputFileId, batchKey: `key-${name}`, metadata: { pass: '1' } });
    await sim.idle();
    const batch = await client.retrieveBatch(created.id);
    const sources = [];
    if (batch.output_file_id) sources.push({ source: 'output' as const, lines: client.fileLines(batch.output_file_id) });
    if (batch.error_file_id) sources.push({ source: 'error' as const, lines: client.fileLines(batch.error_file_id) });
    const collected = await collectOutcomes(sources);
    return { ids, batch, collected, reconciled: reconcileBatch(ids, batch.status, collected.outcomes) };
  }

  it('uploads, creates, completes, and every sent id is accounted for; failure rate follows the profile', async () => {
    const { ids, batch, reconciled, collected } = await runBatch(2_000);
    expect(batch.status).toBe('completed');
    expect(batch.request_counts).toMatchObject({ total: 2_000 });
    expect(reconciled.succeeded.length + reconciled.failed.length).toBe(ids.length);
    expect(collected.duplicates).toEqual([]);
    const rate = reconciled.failed.length / ids.length;
    expect(rate).toBeGreaterThan(0.02);
    expect(rate).toBeLessThan(0.07);
    const codes = new Set(reconciled.failed.map((f) => f.code));
    expect(codes.has('json_validate_failed')).toBe(true);
    const jsonFailure = reconciled.failed.find((f) => f.code === 'json_validate_failed')!;
    expect(jsonFailure.httpStatus).toBe(400);
    expect(typeof jsonFailure.failedGeneration).toBe('string');
    // Every stored success is schema-valid (validated in the parser).
    expect(reconciled.succeeded.every((s) => typeof s.analysis.ai_assisted === 'boolean')).toBe(true);
  });

  it('is deterministic: the same seed fails the same ids', async () => {
    const first = await runBatch(300, 'openai/gpt-oss-20b', 'det');
    const again = await runBatch(300, 'openai/gpt-oss-20b', 'det');
    // Output failures depend only on seed, request and model; 5xx are transient (they vary per batch).
    const outputFailures = (r: typeof first) => r.reconciled.failed.filter((f) => f.code !== 'internal_server_error').map((f) => f.customId).sort();
    expect(outputFailures(again)).toEqual(outputFailures(first));
    expect(outputFailures(first).length).toBeGreaterThan(0);
  });

  it('the strong model fails nothing and gets best-effort (non-strict) schema mode', async () => {
    const { reconciled } = await runBatch(200, 'llama-3.3-70b-versatile');
    expect(reconciled.failed.filter((f) => f.code !== 'internal_server_error')).toEqual([]);
  });

  it('detects AI tools from the PR text', async () => {
    const { reconciled } = await runBatch(20, 'llama-3.3-70b-versatile', 'ai', (i) => pr(i, `Adds caching.\n\n🤖 Generated with [Claude Code](https://claude.com/claude-code)`));
    const ok = reconciled.succeeded.filter((s) => s.analysis.ai_assisted);
    expect(ok.length).toBeGreaterThan(0);
    expect(ok[0]!.analysis.ai_tools).toContain('Claude');
  });

  it('rejects an over-long input on every model with context_length_exceeded', async () => {
    for (const model of ['openai/gpt-oss-20b', 'llama-3.3-70b-versatile']) {
      const { reconciled } = await runBatch(2, model, `long-${model.replace(/\W/g, '')}`, (i) => pr(i, 'x'.repeat(600_000)));
      expect(reconciled.failed.map((f) => f.code)).toEqual(['context_length_exceeded', 'context_length_exceeded']);
    }
  });

  it('fails a batch at validation: nothing runs and every id is failed with batch_failed', async () => {
    sim.setFaults({ failValidation: true });
    const { batch, reconciled } = await runBatch(5);
    expect(batch.status).toBe('failed');
    expect(reconciled.failed.map((f) => f.code)).toEqual(Array(5).fill('batch_failed'));
  });

  it('expires with partial output: finished lines kept, the rest batch_expired (present in the error file or absent)', async () => {
    for (const unfinishedInErrorFile of [true, false]) {
      sim.setFaults({ expireAfterFraction: 0.5, unfinishedInErrorFile });
      const { batch, reconciled } = await runBatch(40, 'llama-3.3-70b-versatile');
      expect(batch.status).toBe('expired');
      const expired = reconciled.failed.filter((f) => f.code === 'batch_expired');
      expect(expired).toHaveLength(20);
      expect(reconciled.succeeded.length + reconciled.failed.length).toBe(40);
    }
  });

  it('completes an all-failed batch with an error file and no output file', async () => {
    sim.setProfile('openai/gpt-oss-120b', { failureRate: 1, jsonValidateShare: 1 });
    const { batch, reconciled } = await runBatch(10, 'openai/gpt-oss-120b');
    sim.setProfile('openai/gpt-oss-120b', { failureRate: 0 });
    expect(batch.status).toBe('completed');
    expect(batch.output_file_id).toBeNull();
    expect(batch.error_file_id).toBeTruthy();
    expect(reconciled.failed).toHaveLength(10);
  });

  it('reports missing and malformed lines, and reads shuffled lines by custom_id', async () => {
    sim.setFaults({ missingRate: 0.1, malformedRate: 0.05, shuffle: true });
    const { ids, reconciled, collected } = await runBatch(400, 'llama-3.3-70b-versatile');
    expect(reconciled.succeeded.length + reconciled.failed.length).toBe(ids.length);
    expect(reconciled.failed.some((f) => f.code === 'missing')).toBe(true);
    expect(reconciled.failed.some((f) => f.code === 'malformed_line')).toBe(true);
    expect(collected.malformed.length + reconciled.failed.filter((f) => f.code === 'malformed_line').length).toBeGreaterThan(0);
  });

  it('retries 429 with retry-after and 503 on download', async () => {
    sim.setFaults({ rateLimitFirst: 2, downloadErrorsFirst: 1 });
    const { batch, reconciled } = await runBatch(10, 'llama-3.3-70b-versatile');
    expect(batch.status).toBe('completed');
    expect(reconciled.succeeded.length + reconciled.failed.length).toBe(10);
  });

  it('cancels: finished lines kept, the rest batch_cancelled', async () => {
    const ids = Array.from({ length: 50 }, (_, i) => `cancel-${i}`);
    sim.setProfile('llama-3.3-70b-versatile', {});
    const slow = await startGroqSimulator({ seed: 7, perLineDelayMs: 20 });
    const slowClient = new GroqBatchClient({ ...DEFAULT_GROQ_BATCH_CONFIG, apiKey: KEY, baseURL: slow.url, maxRetries: 2, timeoutMs: 10_000 });
    try {
      const [file] = await writeBatchInputFiles(
        ids.map((customId, i) => ({ customId, body: buildPrAnalysisRequest(pr(i), { model: 'llama-3.3-70b-versatile', maxTokens: 1_024, strictModels: DEFAULT_STRICT_MODELS }) })),
        dir,
        { maxLines: 1_000, maxBytes: 10_000_000 },
        'cancel',
      );
      const created = await slowClient.createBatch({ inputFileId: await slowClient.uploadFile(file!.path), batchKey: 'cancel', metadata: {} });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect((await slowClient.cancelBatch(created.id)).status).toBe('cancelling');
      await slow.idle();
      const batch: ProviderBatch = await slowClient.retrieveBatch(created.id);
      expect(batch.status).toBe('cancelled');
      const collected = await collectOutcomes(batch.output_file_id ? [{ source: 'output', lines: slowClient.fileLines(batch.output_file_id) }] : []);
      const reconciled = reconcileBatch(ids, batch.status, collected.outcomes);
      expect(reconciled.succeeded.length).toBeGreaterThan(0);
      expect(reconciled.failed.length).toBeGreaterThan(0);
      expect(reconciled.failed.every((f) => f.code === 'batch_cancelled')).toBe(true);
    } finally {
      await slow.stop();
    }
  });

  it('adopts the batch when the create response is lost, instead of creating a second one', async () => {
    sim.setFaults({ dropCreateResponses: 1 });
    const before = sim.stats().batchesCreated;
    const [file] = await writeBatchInputFiles([{ customId: 'adopt-1', body: buildPrAnalysisRequest(pr(1), { model: 'llama-3.3-70b-versatile', maxTokens: 1_024, strictModels: DEFAULT_STRICT_MODELS }) }], dir, { maxLines: 10, maxBytes: 1e6 }, 'adopt');
    const batch = await client.createBatch({ inputFileId: await client.uploadFile(file!.path), batchKey: 'adopt-key', metadata: {} });
    expect(batch.metadata?.cascade_batch_key).toBe('adopt-key');
    expect(sim.stats().batchesCreated - before).toBe(1);
    expect((await client.findBatchByKey('adopt-key'))?.id).toBe(batch.id);
  });

  it('never puts the API key in an error', async () => {
    let error: unknown;
    try {
      await client.retrieveBatch('batch_doesnotexist');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeDefined();
    const text = `${(error as Error).message}\n${(error as Error).stack}\n${JSON.stringify(error)}`;
    expect(text).toMatch(/retrieve batch \(batch_doesnotexist\) failed with HTTP 404/);
    expect(text).not.toContain(KEY);
  });

  it('refuses a base URL that already ends in /openai/v1', () => {
    expect(() => new GroqBatchClient({ ...DEFAULT_GROQ_BATCH_CONFIG, apiKey: KEY, baseURL: 'https://api.groq.com/openai/v1' })).toThrow(/host root/);
  });
});
