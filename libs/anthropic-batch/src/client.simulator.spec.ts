import { batchKeyOf } from '#batching';
import { buildPrAnalysisRequest, type LineOutcome, promptRegistry } from '#groq-batch';
import { type AnthropicSimulator, NO_FAULTS, startAnthropicSimulator } from '../../../tools/anthropic-simulator/src/simulator.js';
import { type AnthropicBatch, AnthropicBatchClient, type AnthropicBatchClientOptions, requestTotal } from './client.js';
import { DEFAULT_ANTHROPIC_BATCH_CONFIG } from './config.js';
import { anthropicCustomId, customIdMap } from './custom-id.js';
import { AnthropicBatchError, CreateInDoubtError } from './errors.js';
import { toAnthropicParams } from './params.js';
import { collectAnthropicOutcomes } from './parse.js';

/**
 * Contract tests: our client (on the real @anthropic-ai/sdk) against the simulator's HTTP API,
 * checked request by request against the simulator's own record of what it did.
 */
const KEY = 'sk-ant-api03-FAKE-contract-test-key';
const HAIKU = 'claude-haiku-4-5';
const SONNET = 'claude-sonnet-4-5';
const validate = promptRegistry().get('pr-analysis-v1').validate;

/** What our parse must say for each of the simulator's per-request outcomes. */
const EXPECTED: Record<string, string[]> = {
  ok: ['succeeded'],
  invalid_json: ['schema_invalid'],
  schema_violation: ['schema_invalid'],
  max_tokens: ['output_too_long'],
  canceled: ['batch_cancelled'],
  expired: ['batch_expired'],
  // A cut line keeps its custom_id when the cut falls after it; otherwise the request has no result.
  malformed: ['malformed_line', 'absent'],
  missing: ['absent'],
};

let run = 0;

function batchOf(count: number, model = HAIKU, maxTokens = 1_024) {
  run++;
  const requestIds = Array.from({ length: count }, (_, i) => `github:acme/api#${run}-${i} with / odd characters`);
  const batchKey = batchKeyOf(1, model, 'pr-analysis-v1', requestIds.map((requestId) => ({ requestId, attempt: 1 })));
  const requests = requestIds.map((requestId, i) => ({
    custom_id: anthropicCustomId(batchKey, requestId),
    params: toAnthropicParams(
      buildPrAnalysisRequest(
        { repo: 'acme/api', title: `fix: retry ${run}-${i}`, body: 'Stops the loop.', author: 'octocat', additions: 10, deletions: 2, changedFiles: 1 },
        { model, maxTokens },
      ),
    ),
  }));
  return { batchKey, requestIds, requests, ids: customIdMap(batchKey, requestIds) };
}

describe('AnthropicBatchClient against the Anthropic simulator', () => {
  let sim: AnthropicSimulator;
  let adopted: AnthropicBatch[];

  const clientWith = (overrides: Partial<typeof DEFAULT_ANTHROPIC_BATCH_CONFIG> = {}, options: AnthropicBatchClientOptions = {}) =>
    new AnthropicBatchClient(
      { ...DEFAULT_ANTHROPIC_BATCH_CONFIG, apiKey: KEY, baseURL: sim.url, maxRetries: 3, timeoutMs: 10_000, retryBaseDelayMs: 10, retryMaxDelayMs: 50, listSettleMs: 300, ...overrides },
      { onAdopt: (batch) => adopted.push(batch), ...options },
    );

  beforeAll(async () => {
    sim = await startAnthropicSimulator({ seed: 7 });
  });
  afterAll(() => sim.stop());
  beforeEach(() => {
    adopted = [];
  });
  afterEach(async () => {
    sim.setFaults({ ...NO_FAULTS });
    sim.setSpeed({ perLineDelayMs: 0 });
    await sim.idle();
  });

  async function outcomesOf(client: AnthropicBatchClient, batchId: string) {
    await sim.idle();
    const batch = await client.retrieveBatch(batchId);
    return { batch, collected: await collectAnthropicOutcomes(client.resultLines(batch.id, batch.results_url!), { validate }) };
  }

  /** Every request's parsed outcome is what the simulator did to it, and maps back to its request id. */
  function expectAgreesWithSimulator(batchId: string, ids: Map<string, string>, outcomes: Map<string, LineOutcome>) {
    const truth = sim.stats().outcomes[batchId] ?? {};
    const ours = (customId: string) => {
      const outcome = outcomes.get(customId);
      return !outcome ? 'absent' : outcome.kind === 'succeeded' ? 'succeeded' : outcome.code;
    };
    const disagreements = [...ids.keys()]
      .filter((customId) => !(EXPECTED[truth[customId]!] ?? [truth[customId]]).includes(ours(customId)))
      .map((customId) => `${ids.get(customId)}: simulator ${truth[customId]}, parsed ${ours(customId)}`);
    expect(disagreements).toEqual([]);
    for (const customId of outcomes.keys()) expect(ids.has(customId)).toBe(true);
  }

  it('runs a batch end to end and accounts for every request exactly as the simulator ran it', async () => {
    sim.setProfile(HAIKU, { serverErrorRate: 0.02, refusalRate: 0.01 });
    const client = clientWith();
    const { batchKey, requests, ids } = batchOf(800, HAIKU, 300);
    const created = await client.createBatch({ batchKey, requests });
    expect(requestTotal(created)).toBe(800);
    const { batch, collected } = await outcomesOf(client, created.id);
    expect(batch.processing_status).toBe('ended');
    expect(collected.duplicates).toEqual([]);
    expect(collected.outcomes.size).toBe(800);
    expectAgreesWithSimulator(created.id, ids, collected.outcomes);
    const codes = new Set([...collected.outcomes.values()].map((o) => (o.kind === 'succeeded' ? 'succeeded' : o.code)));
    expect(codes).toEqual(new Set(['succeeded', 'output_too_long', 'api_error', 'overloaded_error', 'refusal']));
    sim.setProfile(HAIKU, { serverErrorRate: 0.002, refusalRate: 0.002 });
  });

  it('agrees request by request under shuffled, missing and malformed results, and expiry', async () => {
    sim.setFaults({ shuffle: true, missingRate: 0.05, malformedRate: 0.05, expireAfterFraction: 0.8 });
    const client = clientWith();
    const { batchKey, requests, ids } = batchOf(400, SONNET);
    const created = await client.createBatch({ batchKey, requests });
    const { batch, collected } = await outcomesOf(client, created.id);
    expect(batch.request_counts.expired).toBe(80);
    expectAgreesWithSimulator(created.id, ids, collected.outcomes);
  });

  it('adopts the batch when the create response is dropped, instead of creating a second one', async () => {
    sim.setFaults({ dropCreateResponses: 1 });
    const before = sim.stats().batchesCreated;
    const { batchKey, requests } = batchOf(5);
    const created = await clientWith().createBatch({ batchKey, requests });
    expect(sim.stats().batchesCreated - before).toBe(1);
    expect(adopted.map((b) => b.id)).toEqual([created.id]);
  });

  it('adopts the batch when the create answers 500 after creating it', async () => {
    sim.setFaults({ createErrorsAfterWorkFirst: 1 });
    const before = sim.stats().batchesCreated;
    const { batchKey, requests } = batchOf(5);
    const created = await clientWith().createBatch({ batchKey, requests });
    expect(sim.stats().batchesCreated - before).toBe(1);
    expect(adopted.map((b) => b.id)).toEqual([created.id]);
  });

  it('waits out a listing that lags less than the settle time, and adopts', async () => {
    sim.setFaults({ dropCreateResponses: 1, listDelayMs: 150 });
    const before = sim.stats().batchesCreated;
    const { batchKey, requests } = batchOf(5);
    const created = await clientWith({ listSettleMs: 1_000 }).createBatch({ batchKey, requests });
    expect(sim.stats().batchesCreated - before).toBe(1);
    expect(adopted.map((b) => b.id)).toEqual([created.id]);
  });

  it('creates again when nothing shows within the settle time (a listing lagging longer pays twice: the settle time must cover it)', async () => {
    sim.setFaults({ dropCreateResponses: 1, listDelayMs: 5_000 });
    const before = sim.stats().batchesCreated;
    const { batchKey, requests } = batchOf(5);
    await clientWith({ listSettleMs: 100 }).createBatch({ batchKey, requests });
    expect(sim.stats().batchesCreated - before).toBe(2);
    expect(adopted).toEqual([]);
  });

  it('does not create again while a batch of the same size is still running: in doubt, then adopted once it has ended', async () => {
    sim.setSpeed({ perLineDelayMs: 40 });
    sim.setFaults({ dropCreateResponses: 1 });
    const before = sim.stats().batchesCreated;
    const { batchKey, requests } = batchOf(20);
    const client = clientWith({ listSettleMs: 100 });
    const sinceSeconds = Math.floor(Date.now() / 1000);
    const doubt = await client.createBatch({ batchKey, requests, sinceSeconds }).catch((error: unknown) => error);
    expect(doubt).toBeInstanceOf(CreateInDoubtError);
    expect(doubt).toMatchObject({ retryable: true, candidates: [expect.stringMatching(/^msgbatch_/)] });
    expect((doubt as Error).message).toMatch(/may be this one/);
    expect(sim.stats().batchesCreated - before).toBe(1);

    await sim.idle();
    const created = await client.createBatch({ batchKey, requests, sinceSeconds, lookFirst: true });
    expect(created.id).toBe((doubt as CreateInDoubtError).candidates[0]);
    expect(sim.stats().batchesCreated - before).toBe(1);
  });

  it('tells its own batch from others: another key of the same size, and batches the database records', async () => {
    const client = clientWith();
    const mine = batchOf(3);
    const other = batchOf(3);
    const sinceSeconds = Math.floor(Date.now() / 1000);
    const otherBatch = await client.createBatch({ batchKey: other.batchKey, requests: other.requests });
    const first = await client.createBatch({ batchKey: mine.batchKey, requests: mine.requests });
    await sim.idle();
    const lookup = { sinceSeconds, lineCount: 3, isKnown: async () => new Set<string>() };
    expect((await client.findBatchesByKey(mine.batchKey, lookup)).matches.map((b) => b.id)).toEqual([first.id]);
    expect((await client.findBatchesByKey(other.batchKey, lookup)).matches.map((b) => b.id)).toEqual([otherBatch.id]);
    expect((await client.findBatchesByKey(mine.batchKey, { ...lookup, lineCount: 4 })).matches).toEqual([]);
    expect((await client.findBatchesByKey(mine.batchKey, { ...lookup, isKnown: async (ids) => new Set(ids) })).matches).toEqual([]);
    // Created before the intent time (less the clock skew): not a candidate.
    expect((await client.findBatchesByKey(mine.batchKey, { ...lookup, sinceSeconds: sinceSeconds + 3_600 })).matches).toEqual([]);
    // lookFirst adopts the recorded-nowhere batch instead of creating again.
    const before = sim.stats().batchesCreated;
    expect((await client.createBatch({ batchKey: mine.batchKey, requests: mine.requests, sinceSeconds, lookFirst: true })).id).toBe(first.id);
    expect(sim.stats().batchesCreated).toBe(before);
  });

  it('stops when the caller may no longer create, after a lost answer with nothing to adopt', async () => {
    sim.setFaults({ dropCreateResponses: 1, listDelayMs: 5_000 });
    const { batchKey, requests } = batchOf(2);
    const error = await clientWith({ listSettleMs: 50 })
      .createBatch({ batchKey, requests, mayCreate: async () => false })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AnthropicBatchError);
    expect(error).toMatchObject({ retryable: false, message: expect.stringMatching(/may no longer create/) });
  });

  it('rides out 429s with retry-after and 5xx on create and list without a second batch', async () => {
    sim.setFaults({ rateLimitFirst: 1, rateLimitRoute: 'POST /v1/messages/batches', rateLimitRetryAfterMs: 100 });
    const retries: string[] = [];
    const client = clientWith({}, { onRetry: (event) => retries.push(event.reason) });
    const before = sim.stats().batchesCreated;
    const { batchKey, requests } = batchOf(3);
    await client.createBatch({ batchKey, requests });
    expect(sim.stats().batchesCreated - before).toBe(1);
    expect(retries).toEqual(['HTTP 429 (retry-after 1000 ms)']);
    sim.setFaults({ serverErrorsFirst: 2 });
    expect((await client.listBatches({ limit: 1 })).data).toHaveLength(1);
  });

  it('retries the 404 Anthropic may give right after create, on retrieve and results', async () => {
    sim.setFaults({ notFoundAfterCreateMs: 150 });
    const client = clientWith({ retryBaseDelayMs: 100, retryMaxDelayMs: 200, maxRetries: 5 });
    const { batchKey, requests } = batchOf(3, SONNET);
    const created = await client.createBatch({ batchKey, requests });
    expect((await client.retrieveBatch(created.id)).id).toBe(created.id);

    const next = batchOf(3, SONNET);
    const second = await client.createBatch({ batchKey: next.batchKey, requests: next.requests });
    await sim.idle();
    const lines: string[] = [];
    for await (const line of client.resultLines(second.id, `${sim.url}/v1/messages/batches/${second.id}/results`)) lines.push(line);
    expect(lines).toHaveLength(3);
    expect(sim.stats().calls['GET /v1/messages/batches/{id}/results']).toBeGreaterThanOrEqual(2);
  });

  it('refuses locally what cannot be sent: a custom_id without the key, too many requests', async () => {
    const client = clientWith({ maxRequestsPerBatch: 2 });
    const { batchKey, requests } = batchOf(3);
    await expect(client.createBatch({ batchKey, requests })).rejects.toMatchObject({ retryable: false, message: expect.stringMatching(/more than 2 requests/) });
    await expect(client.createBatch({ batchKey, requests: [{ custom_id: 'pr-1', params: requests[0]!.params }] })).rejects.toThrow(/tag/);
  });

  it('cancels, deletes once ended, and never puts the key in an error', async () => {
    sim.setSpeed({ perLineDelayMs: 20 });
    const client = clientWith({ maxRetries: 0 });
    const { batchKey, requests } = batchOf(20, SONNET);
    const created = await client.createBatch({ batchKey, requests });
    expect((await client.cancelBatch(created.id)).processing_status).toBe('canceling');
    const early = await client.deleteBatch(created.id).catch((e: unknown) => e);
    expect(early).toBeInstanceOf(AnthropicBatchError);
    expect(early).toMatchObject({ status: 400, type: 'invalid_request_error', retryable: false });
    expect(JSON.stringify(early) + String((early as Error).stack)).not.toContain(KEY);
    await sim.idle();
    await client.deleteBatch(created.id);
    const gone = await client.retrieveBatch(created.id).catch((e: unknown) => e);
    expect(gone).toMatchObject({ status: 404, type: 'not_found_error' });
    expect((gone as Error).message).toContain(created.id);
  });

  it('answers on demand: each request once, read by the results parser as the simulator decided it', async () => {
    const client = clientWith();
    const { requests } = batchOf(40);
    const lines = await Promise.all(requests.map((r, i) => client.answerOnDemand(`request-${i}`, r.params as unknown as Record<string, unknown>)));
    const collected = await collectAnthropicOutcomes(lines, { validate });
    expect(collected.outcomes.size).toBe(40);
    expect(sim.stats().calls['POST /v1/messages']).toBe(40);
    const decided = sim.stats().outcomes['on-demand']!;
    const byOutcome = (outcome: LineOutcome) => (outcome.kind === 'succeeded' ? 'succeeded' : outcome.code);
    const ours = [...collected.outcomes.values()].map(byOutcome).sort();
    const theirs = Object.values(decided).flatMap((o) => EXPECTED[o] ?? [o]).filter((o) => o !== 'absent' && o !== 'malformed_line').sort();
    expect(ours).toEqual(theirs);
    expect(lines.join('\n')).not.toContain(KEY);
  });

  it('answers an overloaded on-demand call as an errored result of its type (retried like a 5xx)', async () => {
    sim.setFaults({ ...NO_FAULTS, serverErrorsFirst: 1 });
    const { requests } = batchOf(1);
    const line = await clientWith().answerOnDemand('request-overloaded', requests[0]!.params as unknown as Record<string, unknown>);
    const [outcome] = (await collectAnthropicOutcomes([line], { validate })).outcomes.values();
    expect(outcome).toMatchObject({ kind: 'provider_error', customId: 'request-overloaded', code: 'api_error' });
  });
});
