import Anthropic from '@anthropic-ai/sdk';
import { validatePrAnalysis } from '../../../libs/groq-batch/src/pr-analysis/validate.js';
import { type AnthropicSimulator, NO_FAULTS, startAnthropicSimulator } from './simulator.js';
import { anthropicClient, batchRequest, HAIKU, ids, resultsOf, SONNET } from './testing/batch-fixtures.js';

/** Contract tests: the real @anthropic-ai/sdk against the simulator's HTTP API. */
describe('Anthropic simulator through @anthropic-ai/sdk', () => {
  let sim: AnthropicSimulator;
  let client: Anthropic;

  beforeAll(async () => {
    sim = await startAnthropicSimulator({ seed: 11 });
    client = anthropicClient(sim.url);
  });
  afterAll(() => sim.stop());
  afterEach(async () => {
    sim.setFaults({ ...NO_FAULTS });
    sim.setSpeed({ stageDelayMs: 0, perLineDelayMs: 0, linesPerSecond: null });
    await sim.idle();
  });

  async function ended(batchId: string) {
    await sim.idle();
    return client.messages.batches.retrieve(batchId);
  }

  it('creates a batch, ends it, and serves one result per request', async () => {
    const requestIds = ids('req', 50);
    const created = await client.messages.batches.create({ requests: requestIds.map((id) => batchRequest(id)) });
    expect(created).toMatchObject({
      id: expect.stringMatching(/^msgbatch_[A-Za-z0-9]{24}$/),
      type: 'message_batch',
      processing_status: 'in_progress',
      request_counts: { processing: 50, succeeded: 0, errored: 0, canceled: 0, expired: 0 },
      ended_at: null,
      archived_at: null,
      cancel_initiated_at: null,
      results_url: null,
    });
    expect(Date.parse(created.expires_at) - Date.parse(created.created_at)).toBe(24 * 3_600_000);
    expect(created.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

    const batch = await ended(created.id);
    expect(batch.processing_status).toBe('ended');
    expect(batch.results_url).toBe(`${sim.url}/v1/messages/batches/${created.id}/results`);
    const counts = batch.request_counts;
    expect(counts.processing).toBe(0);
    expect(counts.succeeded + counts.errored + counts.canceled + counts.expired).toBe(50);

    const results = await resultsOf(client, created.id);
    expect(results.map((r) => r.custom_id).sort()).toEqual([...requestIds].sort());
    const ok = results.find((r) => r.result.type === 'succeeded')!;
    if (ok.result.type !== 'succeeded') throw new Error('unreachable');
    expect(ok.result.message).toMatchObject({ type: 'message', role: 'assistant', model: HAIKU, usage: { service_tier: 'batch', cache_read_input_tokens: 0 } });
    expect(validatePrAnalysis(ok.result.message.content[0]!.type === 'text' ? ok.result.message.content[0]!.text : '').ok).toBe(true);
    expect(sim.stats().outcomes[created.id]).toBeDefined();
  });

  it('refuses a bad create synchronously: custom_id pattern, duplicates, empty, too large', async () => {
    const refusal = async (requests: unknown[]) => {
      const error = await client.messages.batches.create({ requests } as Anthropic.Messages.BatchCreateParams).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Anthropic.APIError);
      return error as InstanceType<typeof Anthropic.APIError>;
    };
    expect((await refusal([batchRequest('has a space')])).type).toBe('invalid_request_error');
    expect((await refusal([batchRequest('x'.repeat(65))])).status).toBe(400);
    expect((await refusal([batchRequest('twice'), batchRequest('twice')])).message).toMatch(/more than once/);
    expect((await refusal([])).message).toMatch(/at least 1/);
    expect((await refusal([{ custom_id: 'no-params' }])).message).toMatch(/params: Field required/);

    const small = await startAnthropicSimulator({ maxBodyBytes: 2_000 });
    try {
      const error = await anthropicClient(small.url).messages.batches.create({ requests: ids('big', 5).map((id) => batchRequest(id)) }).catch((e: unknown) => e);
      expect(error).toMatchObject({ status: 413, type: 'request_too_large' });
      expect(small.stats().batchesCreated).toBe(0);
    } finally {
      await small.stop();
    }
  });

  it('checks params asynchronously: each bad one is an errored invalid_request_error result', async () => {
    const bad = {
      unknownModel: batchRequest('unknown-model', { model: 'claude-nonexistent' }),
      tooManyTokens: batchRequest('too-many-tokens', { model: SONNET, maxTokens: 1_000_000 }),
      badSchema: batchRequest('bad-schema', { schema: { type: 'object', properties: { n: { type: 'number', minimum: 0 } }, additionalProperties: false } }),
      openObject: batchRequest('open-object', { schema: { type: 'object', properties: { n: { type: 'string' } } } }),
    };
    const noMaxTokens = batchRequest('no-max-tokens');
    delete (noMaxTokens.params as unknown as Record<string, unknown>).max_tokens;
    const created = await client.messages.batches.create({ requests: [...Object.values(bad), noMaxTokens, batchRequest('fine', { model: SONNET })] });
    await ended(created.id);
    const results = new Map((await resultsOf(client, created.id)).map((r) => [r.custom_id, r.result]));
    for (const id of ['unknown-model', 'too-many-tokens', 'bad-schema', 'open-object', 'no-max-tokens']) {
      expect(results.get(id)).toMatchObject({ type: 'errored', error: { type: 'error', error: { type: 'invalid_request_error' }, request_id: expect.any(String) } });
    }
    const messages = Object.fromEntries([...results].map(([id, r]) => [id, r.type === 'errored' ? r.error.error.message : '']));
    expect(messages['too-many-tokens']).toMatch(/maximum allowed number of output tokens/);
    expect(messages['bad-schema']).toMatch(/minimum/);
    expect(messages['open-object']).toMatch(/additionalProperties/);
    expect(messages['no-max-tokens']).toMatch(/max_tokens: Field required/);
    expect(results.get('fine')?.type).toBe('succeeded');
  });

  it('needs an API key', async () => {
    const response = await fetch(`${sim.url}/v1/messages/batches`, { headers: { 'anthropic-version': '2023-06-01' } });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ type: 'error', error: { type: 'authentication_error', message: expect.any(String) } });
    const withHeader = await fetch(`${sim.url}/v1/messages/batches`, { headers: { 'x-api-key': 'sk-ant-x', 'anthropic-version': '2023-06-01' } });
    expect(withHeader.status).toBe(200);
  });

  it('lists newest first with limit, after_id and before_id, and the SDK pages through all of them', async () => {
    const lister = await startAnthropicSimulator();
    try {
      const sdk = anthropicClient(lister.url);
      const made: string[] = [];
      for (let i = 0; i < 5; i++) made.push((await sdk.messages.batches.create({ requests: [batchRequest(`r${i}`)] })).id);
      const newestFirst = [...made].reverse();
      const first = await sdk.messages.batches.list({ limit: 2 });
      expect(first.data.map((b) => b.id)).toEqual(newestFirst.slice(0, 2));
      expect(first).toMatchObject({ has_more: true, first_id: newestFirst[0], last_id: newestFirst[1] });
      const older = await sdk.messages.batches.list({ limit: 2, after_id: newestFirst[1] });
      expect(older.data.map((b) => b.id)).toEqual(newestFirst.slice(2, 4));
      const newer = await sdk.messages.batches.list({ limit: 2, before_id: newestFirst[4] });
      expect(newer.data.map((b) => b.id)).toEqual(newestFirst.slice(2, 4));
      expect(newer.has_more).toBe(true);
      const all: string[] = [];
      for await (const batch of sdk.messages.batches.list({ limit: 2 })) all.push(batch.id);
      expect(all).toEqual(newestFirst);
      expect((await sdk.messages.batches.list()).data).toHaveLength(5);
      await expect(sdk.messages.batches.list({ limit: 1001 })).rejects.toMatchObject({ status: 400 });
      await lister.idle();
    } finally {
      await lister.stop();
    }
  });

  it('cancels: canceling, then ended with the requests not yet run canceled; deletes only once ended', async () => {
    sim.setSpeed({ perLineDelayMs: 10 });
    const created = await client.messages.batches.create({ requests: ids('c', 40).map((id) => batchRequest(id, { model: SONNET })) });
    await expect(client.messages.batches.results(created.id)).rejects.toThrow(/results_url/);
    const direct = await fetch(`${sim.url}/v1/messages/batches/${created.id}/results`, { headers: { 'x-api-key': 'k', 'anthropic-version': '2023-06-01' } });
    expect(direct.status).toBe(400);
    await expect(client.messages.batches.delete(created.id)).rejects.toMatchObject({ status: 400, type: 'invalid_request_error' });
    while (Object.keys(sim.stats().outcomes[created.id] ?? {}).length < 3) await new Promise((resolve) => setTimeout(resolve, 5));
    const canceling = await client.messages.batches.cancel(created.id);
    expect(canceling).toMatchObject({ processing_status: 'canceling', cancel_initiated_at: expect.any(String) });
    const batch = await ended(created.id);
    expect(batch.request_counts.canceled).toBeGreaterThan(0);
    expect(batch.request_counts.succeeded).toBeGreaterThan(0);
    const results = await resultsOf(client, created.id);
    expect(results.filter((r) => r.result.type === 'canceled')).toHaveLength(batch.request_counts.canceled);
    await expect(client.messages.batches.cancel(created.id)).rejects.toMatchObject({ status: 400 });
    expect(await client.messages.batches.delete(created.id)).toEqual({ id: created.id, type: 'message_batch_deleted' });
    await expect(client.messages.batches.retrieve(created.id)).rejects.toBeInstanceOf(Anthropic.NotFoundError);
  });

  it('expires after a fraction: the rest expired, unbilled', async () => {
    sim.setFaults({ expireAfterFraction: 0.25 });
    const created = await client.messages.batches.create({ requests: ids('e', 20).map((id) => batchRequest(id, { model: SONNET })) });
    const batch = await ended(created.id);
    expect(batch.request_counts.expired).toBe(15);
    const billed = sim.stats().billed.byBatch[created.id]?.[SONNET]?.lines ?? 0;
    expect(billed).toBe(batch.request_counts.succeeded);
  });

  it('answers 429 with retry-after, then 5xx, on the first calls', async () => {
    sim.setFaults({ rateLimitFirst: 1, rateLimitRoute: 'GET /v1/messages/batches', rateLimitRetryAfterMs: 2_000 });
    const limited = await client.messages.batches.list().catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(Anthropic.RateLimitError);
    expect((limited as InstanceType<typeof Anthropic.RateLimitError>).headers.get('retry-after')).toBe('2');
    await client.messages.batches.list();
    sim.setFaults({ serverErrorsFirst: 2 });
    await expect(client.messages.batches.list()).rejects.toMatchObject({ status: 500, type: 'api_error' });
    await expect(client.messages.batches.list()).rejects.toMatchObject({ status: 529, type: 'overloaded_error' });
    await client.messages.batches.list();
  });

  it('answers 404 on retrieve and results right after create when asked to (the documented quirk)', async () => {
    sim.setFaults({ notFoundAfterCreateMs: 300 });
    const created = await client.messages.batches.create({ requests: [batchRequest('q')] });
    await expect(client.messages.batches.retrieve(created.id)).rejects.toBeInstanceOf(Anthropic.NotFoundError);
    await sim.idle();
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect((await client.messages.batches.retrieve(created.id)).processing_status).toBe('ended');
  });

  it('leaves new batches out of the list for listDelayMs', async () => {
    sim.setFaults({ listDelayMs: 300 });
    const created = await client.messages.batches.create({ requests: [batchRequest('late')] });
    expect((await client.messages.batches.list({ limit: 1000 })).data.map((b) => b.id)).not.toContain(created.id);
    expect((await client.messages.batches.retrieve(created.id)).id).toBe(created.id);
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect((await client.messages.batches.list({ limit: 1000 })).data.map((b) => b.id)).toContain(created.id);
  });

  it('creates the batch but loses the answer: dropped responses and 500 after creating', async () => {
    const before = sim.stats().batchesCreated;
    sim.setFaults({ dropCreateResponses: 1 });
    await expect(client.messages.batches.create({ requests: [batchRequest('lost')] })).rejects.toBeInstanceOf(Anthropic.APIConnectionError);
    sim.setFaults({ createErrorsAfterWorkFirst: 1 });
    await expect(client.messages.batches.create({ requests: [batchRequest('lost')] })).rejects.toMatchObject({ status: 500, type: 'api_error' });
    expect(sim.stats().batchesCreated - before).toBe(2);
    const listed = (await client.messages.batches.list({ limit: 2 })).data;
    expect(listed).toHaveLength(2);
  });

  it('keeps every result under shuffle, and breaks the promises it is asked to (missing, malformed)', async () => {
    sim.setFaults({ shuffle: true, missingRate: 0.1, malformedRate: 0.1 });
    const requestIds = ids('f', 200);
    const created = await client.messages.batches.create({ requests: requestIds.map((id) => batchRequest(id, { model: SONNET })) });
    await ended(created.id);
    const text = await (await fetch(`${sim.url}/v1/messages/batches/${created.id}/results`, { headers: { 'x-api-key': 'k', 'anthropic-version': '2023-06-01' } })).text();
    const lines = text.split('\n').filter(Boolean);
    const parsed = lines.flatMap((line) => {
      try {
        return [JSON.parse(line) as { custom_id: string }];
      } catch {
        return [];
      }
    });
    const outcomes = sim.stats().outcomes[created.id]!;
    const count = (what: string) => Object.values(outcomes).filter((o) => o === what).length;
    expect(lines).toHaveLength(200 - count('missing'));
    expect(parsed).toHaveLength(200 - count('missing') - count('malformed'));
    expect(count('missing')).toBeGreaterThan(0);
    expect(count('malformed')).toBeGreaterThan(0);
    expect(parsed.map((p) => p.custom_id)).not.toEqual(requestIds.filter((id) => outcomes[id] !== 'missing' && outcomes[id] !== 'malformed'));
  });
});
