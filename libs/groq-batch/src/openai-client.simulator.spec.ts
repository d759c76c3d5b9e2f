import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NO_FAULTS, type OpenAiSimulator, startOpenAiSimulator } from '../../../tools/openai-simulator/src/simulator.js';
import { BATCH_KEY_METADATA } from './compatible-client.js';
import { OpenAiBatchClient } from './openai-client.js';
import { DEFAULT_OPENAI_BATCH_CONFIG, type OpenAiBatchConfig } from './openai-config.js';
import { buildPrAnalysisRequest, type PrForAnalysis } from './pr-analysis/prompt.js';
import { type ReconciledBatch, reconcileBatch } from './reconcile.js';

/**
 * Contract tests: our OpenAI client (on the real openai SDK) against the simulator speaking OpenAI's
 * API, checked line by line against the simulator's own record of what it did to each request.
 */
const KEY = 'sk-proj-FAKE-contract-test-key-0123456789';
const CHEAP = 'gpt-4.1-mini';
const STRONG = 'gpt-4.1';

function pr(i: number): PrForAnalysis {
  return { repo: 'acme/api', title: `fix: retry ${i}`, body: `Fixes the retry loop #${i}.`, author: 'octocat', labels: [], additions: 10, deletions: 2, changedFiles: 1 };
}

/** What our reconciliation must say for each of the simulator's per-line outcomes on OpenAI. */
function expectedCode(simulated: string): string[] {
  switch (simulated) {
    case 'ok':
      return ['succeeded'];
    case 'schema_violation':
      return ['schema_invalid'];
    case 'finish_reason_length':
      return ['output_too_long'];
    default:
      return [simulated];
  }
}

describe('OpenAiBatchClient against the OpenAI simulator', () => {
  let sim: OpenAiSimulator;
  let client: OpenAiBatchClient;
  let dir: string;
  let run = 0;

  const clientFor = (config: Partial<OpenAiBatchConfig> = {}) =>
    new OpenAiBatchClient({ ...DEFAULT_OPENAI_BATCH_CONFIG, apiKey: KEY, baseURL: sim.baseURL, maxRetries: 3, timeoutMs: 10_000, retryBaseDelayMs: 10, listSettleMs: 0, ...config });

  beforeAll(async () => {
    sim = await startOpenAiSimulator({ seed: 7 });
    client = clientFor();
    dir = mkdtempSync(join(tmpdir(), 'openai-batch-sim-spec-'));
  });
  afterAll(async () => {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => sim.setFaults({ ...NO_FAULTS }));

  async function submit(count: number, model: string, using = client) {
    const name = `run-${++run}`;
    const ids = Array.from({ length: count }, (_, i) => `${name}-req-${i}`);
    const [file] = await using.writeInputFiles(
      ids.map((customId, i) => ({ customId, body: buildPrAnalysisRequest(pr(i), { model, maxTokens: 1_024, strictModels: DEFAULT_OPENAI_BATCH_CONFIG.strictModels }) })),
      dir,
      name,
    );
    const created = await using.createBatch({ inputFileId: await using.uploadFile(file!.path), batchKey: `key-${name}`, pass: 1, promptVersion: 'pr-analysis-v1' });
    return { ids, created, batchKey: `key-${name}` };
  }

  async function finish(ids: string[], batchId: string) {
    await sim.idle();
    const batch = await client.retrieveBatch(batchId);
    const collected = await client.readBatchOutcomes(batch);
    return { batch, collected, reconciled: reconcileBatch(ids, batch, collected) };
  }

  function expectAgreesWithSimulator(batchId: string, ids: string[], reconciled: ReconciledBatch) {
    const ours = new Map<string, string>([...reconciled.succeeded.map((s) => [s.customId, 'succeeded'] as const), ...reconciled.failed.map((f) => [f.customId, f.code] as const)]);
    expect(ours.size).toBe(ids.length);
    const truth = sim.stats().outcomes[batchId] ?? {};
    const disagreements = ids
      .filter((id) => !expectedCode(truth[id] ?? 'missing').includes(ours.get(id) ?? 'absent'))
      .map((id) => `${id}: simulator ${truth[id]}, reconciled ${ours.get(id)}`);
    expect(disagreements).toEqual([]);
  }

  it('uploads, creates, polls and reads every outcome exactly as the simulator ran it', async () => {
    const { ids, created } = await submit(1_000, CHEAP);
    expect(created).toMatchObject({ completion_window: '24h', metadata: { [BATCH_KEY_METADATA]: 'key-run-1', cascade_pass: '1', cascade_prompt_version: 'pr-analysis-v1' } });
    const { batch, collected, reconciled } = await finish(ids, created.id);
    expect(batch.status).toBe('completed');
    expect(collected.duplicates).toEqual([]);
    expect(reconciled.unexpected).toEqual([]);
    expectAgreesWithSimulator(created.id, ids, reconciled);
    const codes = new Set(reconciled.failed.map((f) => f.code));
    expect(codes.has('json_validate_failed')).toBe(false);
    expect(codes.has('output_too_long')).toBe(true);
    const rate = reconciled.failed.length / ids.length;
    expect(rate).toBeGreaterThan(0.01);
    expect(rate).toBeLessThan(0.05);
  });

  it('adopts the batch when the create answer is dropped, instead of creating a second one', async () => {
    sim.setFaults({ dropCreateResponses: 1 });
    const before = sim.stats().batchesCreated;
    const { created, batchKey } = await submit(3, STRONG);
    expect(sim.stats().batchesCreated - before).toBe(1);
    expect((await client.findBatchByKey(batchKey))?.id).toBe(created.id);
  });

  it('adopts the batch when the create answers 500 after creating it', async () => {
    sim.setFaults({ createErrorsAfterWorkFirst: 1 });
    const before = sim.stats().batchesCreated;
    const adopted: string[] = [];
    const watching = new OpenAiBatchClient(
      { ...DEFAULT_OPENAI_BATCH_CONFIG, apiKey: KEY, baseURL: sim.baseURL, retryBaseDelayMs: 10, listSettleMs: 0 },
      { onAdopt: (batch, key) => adopted.push(`${batch.id}:${key}`) },
    );
    const { created, batchKey, ids } = await submit(3, STRONG, watching);
    expect(sim.stats().batchesCreated - before).toBe(1);
    expect(adopted).toEqual([`${created.id}:${batchKey}`]);
    expectAgreesWithSimulator(created.id, ids, (await finish(ids, created.id)).reconciled);
  });

  it('expires part-way: finished lines kept, the rest batch_expired from the error file', async () => {
    sim.setFaults({ expireAfterFraction: 0.5 });
    const { ids, created } = await submit(40, STRONG);
    const { batch, reconciled } = await finish(ids, created.id);
    expect(batch.status).toBe('expired');
    expect(reconciled.failed.filter((f) => f.code === 'batch_expired' && f.location?.source === 'error')).toHaveLength(20);
    expectAgreesWithSimulator(created.id, ids, reconciled);
  });

  it('cancels: finished lines kept, the rest batch_cancelled', async () => {
    sim.setSpeed({ perLineDelayMs: 10 });
    try {
      const { ids, created } = await submit(60, STRONG);
      const deadline = Date.now() + 10_000;
      while (Object.keys(sim.stats().outcomes[created.id] ?? {}).length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      expect((await client.cancelBatch(created.id)).status).toBe('cancelling');
      const { batch, reconciled } = await finish(ids, created.id);
      expect(batch.status).toBe('cancelled');
      expect(reconciled.succeeded.length).toBeGreaterThan(0);
      expect(reconciled.failed.filter((f) => f.code === 'batch_cancelled').length).toBeGreaterThan(0);
      expectAgreesWithSimulator(created.id, ids, reconciled);
    } finally {
      sim.setSpeed({ perLineDelayMs: 0 });
    }
  });

  it('finds a batch by key past the first page of the listing, and adopts a lost create the listing shows late', async () => {
    const paging = clientFor({ listPageSize: 2 });
    const { created: oldest, batchKey } = await submit(1, STRONG, paging);
    for (let i = 0; i < 4; i++) await submit(1, STRONG, paging);
    const calls = () => sim.stats().calls['GET /v1/batches'] ?? 0;
    const before = calls();
    expect((await paging.findBatchByKey(batchKey))?.id).toBe(oldest.id);
    expect(calls() - before).toBeGreaterThanOrEqual(3);

    // A lost create whose batch the listing shows only later is looked for until it shows, not created again.
    sim.setFaults({ dropCreateResponses: 1, listDelayMs: 50 });
    const created = sim.stats().batchesCreated;
    const { created: adopted, batchKey: lostKey } = await submit(1, STRONG, clientFor({ listPageSize: 2, listSettleMs: 2_000 }));
    expect(sim.stats().batchesCreated - created).toBe(1);
    expect((await paging.findBatchByKey(lostKey))?.id).toBe(adopted.id);
  });
});
