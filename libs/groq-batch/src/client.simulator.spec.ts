import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type GroqSimulator, NO_FAULTS, startGroqSimulator } from '../../../tools/groq-simulator/src/simulator.js';
import { BATCH_KEY_METADATA, GroqBatchClient } from './client.js';
import { DEFAULT_GROQ_BATCH_CONFIG } from './config.js';
import { buildPrAnalysisRequest, type PrForAnalysis } from './pr-analysis/prompt.js';
import { collectOutcomes } from './parse.js';
import { type ReconciledBatch, reconcileBatch } from './reconcile.js';

/**
 * Contract tests: our client (on the real groq-sdk) against the simulator's HTTP API, checked line
 * by line against the simulator's own record of what it did to each request.
 */
const KEY = 'gsk_FAKE-contract-test-key';

function pr(i: number, body = `Fixes the retry loop #${i}.`): PrForAnalysis {
  return { repo: 'acme/api', title: `fix: retry ${i}`, body, author: 'octocat', labels: [], additions: 10, deletions: 2, changedFiles: 1 };
}

/** What our reconciliation must say for each of the simulator's per-line outcomes. */
function expectedCode(simulated: string): string[] {
  switch (simulated) {
    case 'ok':
      return ['succeeded'];
    case 'schema_violation':
      return ['schema_invalid'];
    case 'finish_reason_length':
    case 'max_tokens_exceeded':
      return ['output_too_long'];
    case 'malformed':
      // A cut line keeps its custom_id when the cut falls after it; otherwise the request is missing.
      return ['malformed_line', 'missing'];
    default:
      return [simulated];
  }
}

describe('GroqBatchClient against the Groq simulator', () => {
  let sim: GroqSimulator;
  let client: GroqBatchClient;
  let dir: string;
  let run = 0;

  beforeAll(async () => {
    sim = await startGroqSimulator({ seed: 7 });
    client = new GroqBatchClient({ ...DEFAULT_GROQ_BATCH_CONFIG, apiKey: KEY, baseURL: sim.url, maxRetries: 3, timeoutMs: 10_000, retryBaseDelayMs: 10 });
    dir = mkdtempSync(join(tmpdir(), 'groq-batch-sim-spec-'));
  });
  afterAll(async () => {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => sim.setFaults({ ...NO_FAULTS }));

  async function submit(count: number, model: string, bodyOf = (i: number) => pr(i)) {
    const name = `run-${++run}`;
    const ids = Array.from({ length: count }, (_, i) => `${name}-req-${i}`);
    const [file, more] = await client.writeInputFiles(
      ids.map((customId, i) => ({ customId, body: buildPrAnalysisRequest(bodyOf(i), { model, maxTokens: 1_024 }) })),
      dir,
      name,
    );
    expect(more).toBeUndefined();
    const created = await client.createBatch({ inputFileId: await client.uploadFile(file!.path), batchKey: `key-${name}`, pass: 1, promptVersion: 'pr-analysis-v1' });
    return { ids, created };
  }

  async function finish(ids: string[], batchId: string) {
    await sim.idle();
    const batch = await client.retrieveBatch(batchId);
    const collected = await client.readBatchOutcomes(batch);
    return { batch, collected, reconciled: reconcileBatch(ids, batch, collected) };
  }

  /** Every sent id once, and each one's code is what the simulator did to it. */
  function expectAgreesWithSimulator(batchId: string, ids: string[], reconciled: ReconciledBatch) {
    const ours = new Map<string, string>([...reconciled.succeeded.map((s) => [s.customId, 'succeeded'] as const), ...reconciled.failed.map((f) => [f.customId, f.code] as const)]);
    expect(ours.size).toBe(ids.length);
    const truth = sim.stats().outcomes[batchId] ?? {};
    const disagreements = ids
      .filter((id) => !expectedCode(truth[id] ?? 'missing').includes(ours.get(id) ?? 'absent'))
      .map((id) => `${id}: simulator ${truth[id]}, reconciled ${ours.get(id)}`);
    expect(disagreements).toEqual([]);
  }

  it('runs a batch end to end and accounts for every id exactly as the simulator ran it', async () => {
    const { ids, created } = await submit(1_000, 'openai/gpt-oss-20b');
    expect(created.metadata).toMatchObject({ [BATCH_KEY_METADATA]: 'key-run-1', cascade_pass: '1', cascade_prompt_version: 'pr-analysis-v1' });
    const { batch, collected, reconciled } = await finish(ids, created.id);
    expect(batch.status).toBe('completed');
    expect(collected.duplicates).toEqual([]);
    expect(reconciled.unexpected).toEqual([]);
    expectAgreesWithSimulator(created.id, ids, reconciled);
    const rate = reconciled.failed.length / ids.length;
    expect(rate).toBeGreaterThan(0.02);
    expect(rate).toBeLessThan(0.08);
    const jsonFailure = reconciled.failed.find((f) => f.code === 'json_validate_failed');
    expect(jsonFailure).toMatchObject({ httpStatus: 400, cause: 'provider_error', location: { source: 'error' } });
    expect(typeof jsonFailure!.failedGeneration).toBe('string');
    expect(reconciled.succeeded.every((s) => s.content.startsWith('{') && typeof s.analysis.ai_assisted === 'boolean')).toBe(true);
  });

  it('agrees line by line under shuffled, missing and malformed lines', async () => {
    sim.setFaults({ shuffle: true, missingRate: 0.05, malformedRate: 0.05 });
    const { ids, created } = await submit(600, 'openai/gpt-oss-20b');
    const { reconciled } = await finish(ids, created.id);
    expectAgreesWithSimulator(created.id, ids, reconciled);
    expect(reconciled.missing.length).toBeGreaterThan(0);
    expect(reconciled.failed.some((f) => f.code === 'malformed_line')).toBe(true);
  });

  it('expires with partial output: finished lines kept, the rest batch_expired, in the error file or absent', async () => {
    for (const unfinishedInErrorFile of [true, false]) {
      sim.setFaults({ expireAfterFraction: 0.5, unfinishedInErrorFile });
      const { ids, created } = await submit(40, 'llama-3.3-70b-versatile');
      const { batch, reconciled } = await finish(ids, created.id);
      expect(batch.status).toBe('expired');
      expect(reconciled.failed.filter((f) => f.code === 'batch_expired')).toHaveLength(20);
      expectAgreesWithSimulator(created.id, ids, reconciled);
    }
  });

  it('fails every id of a batch that failed validation with batch_failed', async () => {
    sim.setFaults({ failValidation: true });
    const { ids, created } = await submit(5, 'openai/gpt-oss-20b');
    const { batch, reconciled } = await finish(ids, created.id);
    expect(batch.status).toBe('failed');
    expect(reconciled.failed.map((f) => f.code)).toEqual(Array(5).fill('batch_failed'));
    expect(reconciled.batchErrors).toBeTruthy();
  });

  it('completes an all-failed batch with an error file and no output file', async () => {
    sim.setProfile('openai/gpt-oss-120b', { failureRate: 1, jsonValidateShare: 1 });
    try {
      const { ids, created } = await submit(10, 'openai/gpt-oss-120b');
      const { batch, reconciled } = await finish(ids, created.id);
      expect(batch).toMatchObject({ status: 'completed', output_file_id: null, error_file_id: expect.any(String) });
      expect(reconciled.failed.map((f) => f.code)).toEqual(Array(10).fill('json_validate_failed'));
    } finally {
      sim.setProfile('openai/gpt-oss-120b', { failureRate: 0 });
    }
  });

  it('cancels: finished lines kept, the rest batch_cancelled', async () => {
    sim.setSpeed({ perLineDelayMs: 10 });
    try {
      const { ids, created } = await submit(60, 'llama-3.3-70b-versatile');
      // Cancel once some lines have run (a fixed pause was too short on a loaded machine).
      const deadline = Date.now() + 10_000;
      while (Object.keys(sim.stats().outcomes[created.id] ?? {}).length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      expect((await client.cancelBatch(created.id)).status).toBe('cancelling');
      const { batch, reconciled } = await finish(ids, created.id);
      expect(batch.status).toBe('cancelled');
      expect(reconciled.succeeded.length).toBeGreaterThan(0);
      expect(reconciled.failed.length).toBeGreaterThan(0);
      // Besides the cancelled ones, a line may carry the simulator's occasional transient 500.
      expect(reconciled.failed.every((f) => f.code === 'batch_cancelled' || f.code === 'internal_server_error')).toBe(true);
      expect(reconciled.failed.filter((f) => f.code === 'batch_cancelled').length).toBeGreaterThan(0);
    } finally {
      sim.setSpeed({ perLineDelayMs: 0 });
    }
  });

  it('adopts the batch when the create response is lost, instead of creating a second one', async () => {
    sim.setFaults({ dropCreateResponses: 1 });
    const before = sim.stats().batchesCreated;
    const { created } = await submit(3, 'llama-3.3-70b-versatile');
    expect(sim.stats().batchesCreated - before).toBe(1);
    expect((await client.findBatchByKey(`key-run-${run}`))?.id).toBe(created.id);
  });

  it('rides out 429s with retry-after on create and a 503 on download', async () => {
    sim.setFaults({ rateLimitFirst: 2, rateLimitRoute: 'POST /openai/v1/batches', downloadErrorsFirst: 1 });
    const before = sim.stats().batchesCreated;
    const { ids, created } = await submit(10, 'llama-3.3-70b-versatile');
    const { reconciled } = await finish(ids, created.id);
    expect(sim.stats().batchesCreated - before).toBe(1);
    expect(reconciled.succeeded).toHaveLength(10);
  });

  it('rejects an over-long input on every model with context_length_exceeded', async () => {
    for (const model of ['openai/gpt-oss-20b', 'llama-3.3-70b-versatile']) {
      const { ids, created } = await submit(2, model, (i) => pr(i, 'x'.repeat(600_000)));
      const { reconciled } = await finish(ids, created.id);
      expect(reconciled.failed.map((f) => f.code)).toEqual(['context_length_exceeded', 'context_length_exceeded']);
    }
  });

  it('answers on demand with the decisions of a batch line, read by the batch parser as the simulator decided them', async () => {
    const before = sim.stats().calls['POST /openai/v1/chat/completions'] ?? 0;
    const lines = await Promise.all(
      Array.from({ length: 60 }, (_, i) => client.answerOnDemand(`on-demand-${i}`, buildPrAnalysisRequest(pr(1_000 + i), { model: 'openai/gpt-oss-20b', maxTokens: 1_024 }) as unknown as Record<string, unknown>)),
    );
    const collected = await collectOutcomes([{ source: 'output', lines }]);
    expect(collected.outcomes.size).toBe(60);
    expect((sim.stats().calls['POST /openai/v1/chat/completions'] ?? 0) - before).toBe(60);
    const ours = [...collected.outcomes.values()].map((o) => (o.kind === 'succeeded' ? 'succeeded' : o.code)).sort();
    const theirs = Object.values(sim.stats().outcomes['on-demand']!).map((o) => expectedCode(o)[0]!).sort();
    expect(ours).toEqual(theirs);
    expect(lines.join('\n')).not.toContain(KEY);
  });
});
