import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Ajv } from 'ajv';
import Groq, { AuthenticationError, BadRequestError, InternalServerError, NotFoundError, RateLimitError } from 'groq-sdk';
import { existsSync } from 'node:fs';
import { prAnalysisJsonSchema } from '../../../libs/groq-batch/src/pr-analysis/pr-analysis.schema.js';
import { CHEAP_MODEL_PROFILE, type GroqSimulator, NO_FAULTS, startGroqSimulator } from './simulator.js';
import {
  CHEAP,
  createBatch,
  errorCode,
  FALLBACK,
  fileLines,
  groqClient,
  ids,
  outcomesById,
  parsedLines,
  pollUntilTerminal,
  prAnalysisFormat,
  requestLine,
  runBatchToEnd,
  STRONG_REASONING,
  toJsonl,
  uploadJsonl,
} from './testing/batch-fixtures.js';

/** Contract tests: real HTTP, unmodified groq-sdk as the client. */
const validPrAnalysis = new Ajv({ strict: false }).compile(prAnalysisJsonSchema);
const BATCH_FIELDS = [
  'id', 'object', 'endpoint', 'errors', 'input_file_id', 'completion_window', 'status', 'output_file_id', 'error_file_id',
  'created_at', 'in_progress_at', 'expires_at', 'finalizing_at', 'completed_at', 'failed_at', 'expired_at',
  'cancelling_at', 'cancelled_at', 'request_counts', 'metadata',
];

/** Waits until a paced batch has run some lines, however loaded the machine is. */
async function linesDone(groq: Groq, batchId: string, atLeast = 3): Promise<void> {
  for (;;) {
    const batch = (await groq.batches.retrieve(batchId)) as unknown as { request_counts: { completed: number; failed: number } };
    if (batch.request_counts.completed + batch.request_counts.failed >= atLeast) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('Groq Batch API simulator, through groq-sdk', () => {
  let sim: GroqSimulator;
  let groq: Groq;

  beforeAll(async () => {
    sim = await startGroqSimulator({ seed: 7 });
    groq = groqClient(sim.url);
  });
  afterAll(async () => {
    await sim.stop();
  });
  afterEach(() => {
    sim.setFaults({ ...NO_FAULTS });
    sim.setProfile(CHEAP, CHEAP_MODEL_PROFILE);
    sim.setProfile(STRONG_REASONING, { failureRate: 0, serverErrorRate: CHEAP_MODEL_PROFILE.serverErrorRate });
    sim.setProfile(FALLBACK, { failureRate: 0, serverErrorRate: CHEAP_MODEL_PROFILE.serverErrorRate, schemaViolationRate: 0 });
    sim.setSpeed({ perLineDelayMs: 0, linesPerSecond: null, stageDelayMs: 0 });
  });

  describe('files', () => {
    it('uploads, lists, describes, streams and deletes a file', async () => {
      const jsonl = toJsonl([requestLine('f-1'), requestLine('f-2')]);
      const uploaded = await groq.files.create({ file: new File([jsonl], 'prs.jsonl'), purpose: 'batch' });
      expect(uploaded).toMatchObject({ object: 'file', bytes: Buffer.byteLength(jsonl), filename: 'prs.jsonl', purpose: 'batch' });
      expect(uploaded.id).toMatch(/^file_[0-9a-z]{26}$/);
      expect((await groq.files.list()).data.map((f) => f.id)).toContain(uploaded.id);
      expect(await groq.files.info(uploaded.id!)).toEqual(uploaded);
      expect(await (await groq.files.content(uploaded.id!)).text()).toBe(jsonl);
      expect(await groq.files.delete(uploaded.id!)).toEqual({ id: uploaded.id, object: 'file', deleted: true });
      await expect(groq.files.info(uploaded.id!)).rejects.toBeInstanceOf(NotFoundError);
    });

    it('refuses an upload without purpose=batch, and unknown routes and ids with 404', async () => {
      await expect(groq.files.create({ file: new File(['{}\n'], 'x.jsonl'), purpose: 'fine-tune' as 'batch' })).rejects.toBeInstanceOf(BadRequestError);
      await expect(groq.batches.retrieve('batch_doesnotexist')).rejects.toMatchObject({ status: 404, error: { error: { code: 'not_found' } } });
      const response = await fetch(`${sim.url}/openai/v1/nothing`, { headers: { authorization: 'Bearer x' } });
      expect(response.status).toBe(404);
      expect(await response.json()).toMatchObject({ error: { type: 'invalid_request_error', code: 'unknown_url' } });
    });

    it('requires a bearer token: 401 with Groq error body otherwise', async () => {
      const response = await fetch(`${sim.url}/openai/v1/batches`);
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({ error: { message: 'Invalid API Key', type: 'invalid_request_error', code: 'invalid_api_key' } });
      const blank = await fetch(`${sim.url}/openai/v1/files`, { headers: { authorization: 'Bearer ' } });
      expect(blank.status).toBe(401);
      await expect(groqClient(sim.url, { apiKey: ' ' }).batches.list()).rejects.toBeInstanceOf(AuthenticationError);
    });
  });

  describe('batch lifecycle', () => {
    it('completes: every field, ordered timestamps, counts, and Groq-shaped output lines', async () => {
      const before = sim.stats();
      const inputFileId = await uploadJsonl(groq, toJsonl(ids('ok', 30).map((id) => requestLine(id, { model: FALLBACK }))));
      const created = await createBatch(groq, inputFileId, { cascade_batch_key: 'k-ok' });
      expect(Object.keys(created).sort()).toEqual([...BATCH_FIELDS].sort());
      expect(created).toMatchObject({
        object: 'batch',
        status: 'validating',
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
        input_file_id: inputFileId,
        output_file_id: null,
        error_file_id: null,
        in_progress_at: null,
        completed_at: null,
        metadata: { cascade_batch_key: 'k-ok' },
        errors: null,
      });
      expect(created.id).toMatch(/^batch_[0-9a-z]{26}$/);
      expect(created.expires_at - created.created_at).toBe(24 * 3_600);

      const batch = await pollUntilTerminal(groq, created.id);
      expect(batch.status).toBe('completed');
      expect(batch.request_counts).toEqual({ total: 30, completed: batch.request_counts.total - batch.request_counts.failed, failed: batch.request_counts.failed });
      expect(batch.created_at).toBeLessThanOrEqual(batch.in_progress_at!);
      expect(batch.in_progress_at!).toBeLessThanOrEqual(batch.finalizing_at!);
      expect(batch.finalizing_at!).toBeLessThanOrEqual(batch.completed_at!);
      expect([batch.failed_at, batch.expired_at, batch.cancelled_at, batch.cancelling_at]).toEqual([null, null, null, null]);

      const output = await parsedLines(groq, batch.output_file_id);
      expect(output.length).toBe(batch.request_counts.completed);
      const line = output[0]!;
      expect(Object.keys(line).sort()).toEqual(['custom_id', 'error', 'id', 'response']);
      expect(line.id).toMatch(/^batch_req_out_[0-9a-z]{26}$/);
      expect(line.error).toBeNull();
      expect(line.response).toMatchObject({ status_code: 200, request_id: expect.stringMatching(/^req_/), body: { object: 'chat.completion', model: FALLBACK } });
      const body = line.response!.body;
      expect(body.choices![0]).toMatchObject({ finish_reason: 'stop', message: { role: 'assistant' } });
      expect(validPrAnalysis(JSON.parse(body.choices![0]!.message.content))).toBe(true);
      expect(body.usage!.total_tokens).toBe(body.usage!.prompt_tokens + body.usage!.completion_tokens);
      expect(body.usage!.prompt_tokens).toBeGreaterThan(50);
      expect(body.usage!.completion_tokens).toBeGreaterThan(20);
      const info = await groq.files.info(batch.output_file_id!);
      expect(info).toMatchObject({ purpose: 'batch_output', filename: `${batch.id}_output.jsonl` });

      const stats = sim.stats();
      expect(stats.batchesCreated - before.batchesCreated).toBe(1);
      expect(stats.calls['POST /openai/v1/batches']! - (before.calls['POST /openai/v1/batches'] ?? 0)).toBe(1);
      expect(stats.calls['GET /openai/v1/batches/{id}']).toBeGreaterThanOrEqual(1);
      expect(Object.keys(stats.outcomes[batch.id]!).sort()).toEqual(ids('ok', 30).sort());
    });

    it('writes failed lines to the error file in the observed format, with failed_generation', async () => {
      sim.setProfile(CHEAP, { failureRate: 1, jsonValidateShare: 1, serverErrorRate: 0 });
      const batch = await runBatchToEnd(groq, [requestLine('jv-1'), requestLine('jv-2')]);
      expect(batch).toMatchObject({ status: 'completed', output_file_id: null, request_counts: { total: 2, completed: 0, failed: 2 } });
      const [line] = await parsedLines(groq, batch.error_file_id);
      expect(Object.keys(line!).sort()).toEqual(['custom_id', 'id', 'response']);
      expect(line!.response).toEqual({
        status_code: 400,
        body: {
          error: {
            message: expect.stringContaining('Failed to validate JSON'),
            type: 'invalid_request_error',
            code: 'json_validate_failed',
            failed_generation: expect.any(String),
          },
        },
      });
    });

    it('fails at validation: status failed, errors with codes and line numbers, nothing runs', async () => {
      const processedBefore = sim.stats().linesProcessed;
      const lines = [
        requestLine('v-1'),
        '{"custom_id": "v-2", "method": "POST", ',
        requestLine('v-1'),
        { ...requestLine('v-4'), url: '/v1/embeddings' },
        { ...requestLine('v-5'), method: 'GET' },
        { custom_id: 'v-6', method: 'POST', url: '/v1/chat/completions', body: { messages: [] } },
        requestLine('v-7', { model: 'gpt-4o' }),
        { ...requestLine('v-8'), custom_id: '' },
      ];
      const batch = await runBatchToEnd(groq, lines);
      expect(batch).toMatchObject({ status: 'failed', output_file_id: null, error_file_id: null, in_progress_at: null, request_counts: { total: 0, completed: 0, failed: 0 } });
      expect(batch.failed_at).toBeGreaterThanOrEqual(batch.created_at);
      expect(batch.errors!.object).toBe('list');
      expect(batch.errors!.data.map((e) => [e.code, e.line, e.param])).toEqual([
        ['invalid_json_line', 2, null],
        ['duplicate_custom_id', 3, 'custom_id'],
        ['invalid_url', 4, 'url'],
        ['invalid_method', 5, 'method'],
        ['missing_required_parameter', 6, 'body.model'],
        ['model_not_found', 7, 'body.model'],
        ['missing_required_parameter', 8, 'custom_id'],
      ]);
      expect(sim.stats().linesProcessed).toEqual(processedBefore);
    });

    it('fails validation on demand (fault)', async () => {
      sim.setFaults({ failValidation: true });
      const batch = await runBatchToEnd(groq, [requestLine('fv-1')]);
      expect(batch.status).toBe('failed');
      expect(batch.errors!.data.map((e) => e.code)).toEqual(['simulated_validation_failure']);
    });

    it('refuses bad create requests: endpoint, completion window, metadata, unknown file', async () => {
      const inputFileId = await uploadJsonl(groq, toJsonl([requestLine('c-1')]));
      const create = (body: Record<string, unknown>) =>
        groq.batches.create({ input_file_id: inputFileId, endpoint: '/v1/chat/completions', completion_window: '24h', ...body } as Parameters<Groq['batches']['create']>[0]);
      await expect(create({ endpoint: '/v1/embeddings' })).rejects.toMatchObject({ status: 400, error: { error: { param: 'endpoint' } } });
      await expect(create({ completion_window: '12h' })).rejects.toMatchObject({ status: 400, error: { error: { param: 'completion_window' } } });
      await expect(create({ completion_window: '8d' })).rejects.toBeInstanceOf(BadRequestError);
      await expect(create({ metadata: { pass: 2 } })).rejects.toMatchObject({ status: 400, error: { error: { param: 'metadata' } } });
      await expect(create({ input_file_id: 'file_missing' })).rejects.toBeInstanceOf(NotFoundError);
      for (const window of ['48h', '3d', '7d']) expect((await create({ completion_window: window })).completion_window).toBe(window);
      await sim.idle();
    });

    it('completes an all-failed batch with an error file and no output file', async () => {
      sim.setProfile(STRONG_REASONING, { failureRate: 1, jsonValidateShare: 1 });
      const batch = await runBatchToEnd(groq, ids('allfail', 12).map((id) => requestLine(id, { model: STRONG_REASONING })));
      expect(batch).toMatchObject({ status: 'completed', output_file_id: null, request_counts: { total: 12, completed: 0, failed: 12 } });
      expect(batch.error_file_id).toMatch(/^file_/);
      expect(await fileLines(groq, batch.error_file_id)).toHaveLength(12);
    });

    it.each([false, true])('expires part-way with the finished lines in the output file (unfinished in error file: %s)', async (unfinishedInErrorFile) => {
      sim.setFaults({ expireAfterFraction: 0.25, unfinishedInErrorFile });
      const sent = ids(`exp-${unfinishedInErrorFile}`, 40);
      const batch = await runBatchToEnd(groq, sent.map((id) => requestLine(id, { model: FALLBACK })));
      expect(batch.status).toBe('expired');
      expect(batch.expired_at).toBeGreaterThanOrEqual(batch.in_progress_at!);
      expect(batch.completed_at).toBeNull();
      // As on OpenAI: lines never run are not counted as failed.
      expect(batch.request_counts.completed + batch.request_counts.failed).toBe(10);
      const output = await parsedLines(groq, batch.output_file_id);
      expect(output.map((l) => l.custom_id)).toEqual(sent.slice(0, 10).filter((id) => output.some((l) => l.custom_id === id)));
      const unfinished = (await parsedLines(groq, batch.error_file_id)).filter((l) => l.error?.code === 'batch_expired');
      if (unfinishedInErrorFile) {
        expect(unfinished.map((l) => l.custom_id)).toEqual(sent.slice(10));
        expect(unfinished[0]).toMatchObject({ response: null, error: { code: 'batch_expired', message: expect.stringContaining('completion window') } });
      } else expect(unfinished).toEqual([]);
      expect(Object.values(sim.stats().outcomes[batch.id]!).filter((o) => o === 'batch_expired')).toHaveLength(30);
    });

    it('expires when the clock passes expires_at while the batch runs', async () => {
      let now = Date.now();
      const clocked = await startGroqSimulator({ seed: 7, clock: () => now, linesPerSecond: 400 });
      try {
        const client = groqClient(clocked.url);
        const created = await createBatch(client, await uploadJsonl(client, toJsonl(ids('clock', 60).map((id) => requestLine(id, { model: FALLBACK })))));
        await linesDone(client, created.id);
        now += 25 * 3_600 * 1_000;
        const batch = await pollUntilTerminal(client, created.id);
        expect(batch.status).toBe('expired');
        expect(batch.expired_at).toBeGreaterThanOrEqual(created.expires_at);
        expect(batch.request_counts.completed).toBeGreaterThan(0);
        expect(batch.request_counts.completed).toBeLessThan(60);
      } finally {
        await clocked.stop();
      }
    });

    it.each([false, true])('cancels: cancelling then cancelled, finished lines kept (unfinished in error file: %s)', async (unfinishedInErrorFile) => {
      sim.setFaults({ unfinishedInErrorFile });
      sim.setSpeed({ linesPerSecond: 500 });
      const sent = ids(`cancel-${unfinishedInErrorFile}`, 100);
      const created = await createBatch(groq, await uploadJsonl(groq, toJsonl(sent.map((id) => requestLine(id, { model: FALLBACK })))));
      await linesDone(groq, created.id);
      const cancelling = (await groq.batches.cancel(created.id)) as unknown as { status: string; cancelling_at: number | null };
      expect(cancelling.status).toBe('cancelling');
      expect(cancelling.cancelling_at).not.toBeNull();
      const batch = await pollUntilTerminal(groq, created.id);
      expect(batch.status).toBe('cancelled');
      expect(batch.cancelled_at).toBeGreaterThanOrEqual(batch.cancelling_at!);
      const finished = batch.request_counts.completed + batch.request_counts.failed;
      expect(finished).toBeGreaterThan(0);
      expect(finished).toBeLessThan(100);
      const seen = await outcomesById(groq, batch);
      const cancelledLines = [...seen.values()].filter((l) => l.error?.code === 'batch_cancelled');
      expect(cancelledLines).toHaveLength(unfinishedInErrorFile ? 100 - finished : 0);
      expect(seen.size).toBe(unfinishedInErrorFile ? 100 : finished);
      await expect(groq.batches.cancel(created.id)).rejects.toBeInstanceOf(BadRequestError);
    });

    it('cancels a batch still validating: nothing runs', async () => {
      sim.setSpeed({ stageDelayMs: 200 });
      const created = await createBatch(groq, await uploadJsonl(groq, toJsonl([requestLine('cv-1', { model: FALLBACK })])));
      expect((await groq.batches.cancel(created.id)).status).toBe('cancelling');
      const batch = await pollUntilTerminal(groq, created.id);
      expect(batch).toMatchObject({ status: 'cancelled', in_progress_at: null, output_file_id: null, error_file_id: null });
    });

    it('lists batches newest first, OpenAI-style, with paging and a metadata round trip', async () => {
      const a = await createBatch(groq, await uploadJsonl(groq, toJsonl([requestLine('l-1', { model: FALLBACK })])), { cascade_batch_key: 'list-a' });
      const b = await createBatch(groq, await uploadJsonl(groq, toJsonl([requestLine('l-2', { model: FALLBACK })])), { cascade_batch_key: 'list-b' });
      await sim.idle();
      const list = (await groq.batches.list()) as unknown as { object: string; data: Array<{ id: string; metadata: Record<string, string> }>; first_id: string; last_id: string; has_more: boolean };
      expect(list).toMatchObject({ object: 'list', first_id: b.id, has_more: false });
      expect(list.data[0]!.id).toBe(b.id);
      expect(list.data[1]!.id).toBe(a.id);
      expect(list.last_id).toBe(list.data.at(-1)!.id);
      expect(list.data.find((x) => x.metadata?.cascade_batch_key === 'list-a')?.id).toBe(a.id);
      const page = await (await fetch(`${sim.url}/openai/v1/batches?limit=1&after=${b.id}`, { headers: { authorization: 'Bearer t' } })).json();
      expect(page).toMatchObject({ data: [{ id: a.id }], first_id: a.id, last_id: a.id, has_more: true });
    });
  });

  describe('faults', () => {
    it('429 with retry-after on the first calls of a route: the SDK waits, retries and succeeds', async () => {
      sim.setFaults({ rateLimitFirst: 2, rateLimitRoute: 'POST /openai/v1/batches', rateLimitRetryAfterMs: 150 });
      const inputFileId = await uploadJsonl(groq, toJsonl([requestLine('rl-1', { model: FALLBACK })]));
      const before = sim.stats().calls['POST /openai/v1/batches'] ?? 0;
      const started = Date.now();
      const created = await createBatch(groq, inputFileId);
      expect(Date.now() - started).toBeGreaterThanOrEqual(280);
      expect(sim.stats().calls['POST /openai/v1/batches']! - before).toBe(3);
      expect((await pollUntilTerminal(groq, created.id)).status).toBe('completed');
    });

    it('429 carries Groq rate-limit headers and body; the SDK gives up after its retries', async () => {
      sim.setFaults({ rateLimitFirst: 5, rateLimitRetryAfterMs: 10 });
      const response = await fetch(`${sim.url}/openai/v1/batches`, { headers: { authorization: 'Bearer t' } });
      expect(response.status).toBe(429);
      expect(response.headers.get('retry-after')).toBe('0.01');
      expect(await response.json()).toMatchObject({ error: { type: 'requests', code: 'rate_limit_exceeded' } });
      await expect(groqClient(sim.url, { maxRetries: 1 }).batches.list()).rejects.toBeInstanceOf(RateLimitError);
    });

    it('503 on the first downloads: the SDK retries the download', async () => {
      const batch = await runBatchToEnd(groq, ids('dl', 5).map((id) => requestLine(id, { model: FALLBACK })));
      sim.setFaults({ downloadErrorsFirst: 1 });
      const before = sim.stats().calls['GET /openai/v1/files/{id}/content'] ?? 0;
      expect(await fileLines(groq, batch.output_file_id)).toHaveLength(5);
      expect(sim.stats().calls['GET /openai/v1/files/{id}/content']! - before).toBe(2);
      sim.setFaults({ downloadErrorsFirst: 1 });
      const raw = await fetch(`${sim.url}/openai/v1/files/${batch.output_file_id}/content`, { headers: { authorization: 'Bearer t' } });
      expect(raw.status).toBe(503);
    });

    it('missing lines: some requests are in neither file although counted', async () => {
      sim.setFaults({ missingRate: 0.2 });
      const sent = ids('miss', 200);
      const batch = await runBatchToEnd(groq, sent.map((id) => requestLine(id, { model: FALLBACK })));
      expect(batch.status).toBe('completed');
      expect(batch.request_counts.completed + batch.request_counts.failed).toBe(200);
      const seen = await outcomesById(groq, batch);
      const missing = sent.filter((id) => !seen.has(id));
      expect(missing.length).toBeGreaterThan(20);
      expect(missing.length).toBeLessThan(60);
      const outcomes = sim.stats().outcomes[batch.id]!;
      expect(missing.every((id) => outcomes[id] === 'missing')).toBe(true);
    });

    it('malformed lines: some lines are not JSON', async () => {
      sim.setFaults({ malformedRate: 0.1 });
      const batch = await runBatchToEnd(groq, ids('mal', 200).map((id) => requestLine(id, { model: FALLBACK })));
      const lines = [...(await fileLines(groq, batch.output_file_id)), ...(await fileLines(groq, batch.error_file_id))];
      expect(lines).toHaveLength(200);
      const broken = lines.filter((line) => {
        try {
          JSON.parse(line);
          return false;
        } catch {
          return true;
        }
      });
      expect(broken.length).toBeGreaterThan(5);
      expect(broken.length).toBe(Object.values(sim.stats().outcomes[batch.id]!).filter((o) => o === 'malformed').length);
    });

    it('shuffles output lines: same set, another order', async () => {
      sim.setFaults({ shuffle: true });
      const sent = ids('shuf', 300);
      const batch = await runBatchToEnd(groq, sent.map((id) => requestLine(id, { model: FALLBACK, maxTokens: 4_096 })));
      const order = (await parsedLines(groq, batch.output_file_id)).map((l) => l.custom_id);
      expect(order).not.toEqual(sent.filter((id) => order.includes(id)));
      expect([...order].sort()).toEqual(sent.filter((id) => order.includes(id)).sort());
      expect(order.length).toBeGreaterThan(290);
    });

    it('slow responses delay every API call', async () => {
      sim.setFaults({ responseDelayMs: 120 });
      const started = Date.now();
      await groq.files.list();
      expect(Date.now() - started).toBeGreaterThanOrEqual(110);
    });

    it('answers the first N calls of any route with 500, 502 and 503 in turn, then serves again', async () => {
      sim.setFaults({ serverErrorsFirst: 3 });
      const auth = { authorization: 'Bearer fake-simulator-test-key' };
      const statuses = [];
      for (const path of ['/openai/v1/batches', '/openai/v1/files', '/openai/v1/batches', '/openai/v1/files']) {
        statuses.push((await fetch(`${sim.url}${path}`, { headers: auth })).status);
      }
      expect(statuses).toEqual([500, 502, 503, 200]);
    });

    it('drops the create response once: the batch exists but the client never hears of it', async () => {
      const inputFileId = await uploadJsonl(groq, toJsonl([requestLine('drop-1', { model: FALLBACK })]));
      sim.setFaults({ dropCreateResponses: 1 });
      const before = sim.stats().batchesCreated;
      await expect(groqClient(sim.url, { maxRetries: 0 }).batches.create({ input_file_id: inputFileId, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { cascade_batch_key: 'dropped' } })).rejects.toThrow();
      expect(sim.stats().batchesCreated - before).toBe(1);
      const list = (await groq.batches.list()) as unknown as { data: Array<{ metadata: Record<string, string> | null }> };
      expect(list.data.filter((b) => b.metadata?.cascade_batch_key === 'dropped')).toHaveLength(1);
    });

    it('answers 500 to a create that made the batch: it runs, is billed and listed; the next create answers normally', async () => {
      const own = await startGroqSimulator({ seed: 7 });
      try {
        const client = groqClient(own.url, { maxRetries: 0 });
        const inputFileId = await uploadJsonl(client, toJsonl([requestLine('c500-1', { model: FALLBACK })]));
        const create = (key: string) =>
          client.batches.create({ input_file_id: inputFileId, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { cascade_batch_key: key } });
        own.setFaults({ createErrorsAfterWorkFirst: 1 });
        const refused = create('create-500');
        await expect(refused).rejects.toBeInstanceOf(InternalServerError);
        await expect(refused).rejects.toMatchObject({ status: 500, error: { error: { message: 'Internal Server Error', type: 'internal_server_error', code: 'internal_server_error' } } });
        expect(own.stats().batchesCreated).toBe(1);
        const list = (await client.batches.list()) as unknown as { data: Array<{ id: string; metadata: Record<string, string> | null }> };
        const made = list.data.filter((b) => b.metadata?.cascade_batch_key === 'create-500');
        expect(made).toHaveLength(1);
        expect((await pollUntilTerminal(client, made[0]!.id)).status).toBe('completed');
        expect(own.stats().billed.byBatch[made[0]!.id]?.[FALLBACK]?.lines).toBe(1);

        const next = await create('after-500');
        expect(next).toMatchObject({ object: 'batch', status: 'validating', metadata: { cascade_batch_key: 'after-500' } });
        expect(own.stats().batchesCreated).toBe(2);
        // Setting the count again restarts it.
        own.setFaults({ createErrorsAfterWorkFirst: 1 });
        await expect(create('again-500')).rejects.toMatchObject({ status: 500 });
        expect(own.stats().batchesCreated).toBe(3);
        await own.idle();
      } finally {
        await own.stop();
      }
    });

    it('lists a new batch only once it is listDelayMs old; retrieve and cancel find it at once', async () => {
      sim.setFaults({ listDelayMs: 1_500 });
      sim.setSpeed({ stageDelayMs: 200 });
      const auth = { authorization: 'Bearer fake-simulator-test-key' };
      const listedIds = async (query = '') => {
        const response = await fetch(`${sim.url}/openai/v1/batches${query}`, { headers: auth });
        expect(response.status).toBe(200);
        return ((await response.json()) as { data: Array<{ id: string }> }).data.map((b) => b.id);
      };
      const inputFileId = await uploadJsonl(groq, toJsonl([requestLine('ld-1', { model: FALLBACK })]));
      const before = Date.now();
      const created = await createBatch(groq, inputFileId, { cascade_batch_key: 'list-delay' });
      expect((await groq.batches.retrieve(created.id)).id).toBe(created.id);
      expect((await groq.batches.cancel(created.id)).status).toBe('cancelling');
      const sdkList = (await groq.batches.list()) as unknown as { data: Array<{ id: string; metadata: Record<string, string> | null }> };
      expect(sdkList.data.filter((b) => b.id === created.id || b.metadata?.cascade_batch_key === 'list-delay')).toEqual([]);
      expect(await listedIds(`?id=${created.id}`)).toEqual([]);
      expect(await listedIds('?limit=1')).not.toContain(created.id);

      const deadline = Date.now() + 10_000;
      let seenAt: number | null = null;
      while (seenAt === null) {
        if ((await listedIds(`?id=${created.id}`)).includes(created.id)) seenAt = Date.now();
        else if (Date.now() > deadline) throw new Error(`batch ${created.id} not listed 10 s after its create`);
        else await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect(seenAt - before).toBeGreaterThanOrEqual(1_500);
      expect((await listedIds())[0]).toBe(created.id);
      expect((await pollUntilTerminal(groq, created.id)).status).toBe('cancelled');
    });

    it('takes faults, profiles and speed over the control routes and reports stats', async () => {
      const post = (path: string, body: unknown) => fetch(`${sim.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(await (await post('/_sim/faults', { shuffle: true, missingRate: 0.5 })).json()).toMatchObject({ shuffle: true, missingRate: 0.5 });
      expect(sim.faults()).toMatchObject({ shuffle: true, missingRate: 0.5 });
      const bad = await post('/_sim/faults', { shufle: true });
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ error: { message: expect.stringContaining('shufle') } });
      expect((await post('/_sim/faults', { missingRate: 'lots' })).status).toBe(400);
      expect(await (await post('/_sim/faults', { listDelayMs: 2_000, createErrorsAfterWorkFirst: 1 })).json()).toMatchObject({ listDelayMs: 2_000, createErrorsAfterWorkFirst: 1 });
      for (const bad of [{ listDelayMs: -1 }, { listDelayMs: '2s' }, { createErrorsAfterWorkFirst: true }, { createErrorsAfterWorkFirst: -1 }]) {
        const refused = await post('/_sim/faults', bad);
        expect(refused.status).toBe(400);
        expect(await refused.json()).toMatchObject({ error: { code: 'invalid_control_request', message: expect.stringContaining(Object.keys(bad)[0]!) } });
      }
      sim.setFaults({ listDelayMs: 0, createErrorsAfterWorkFirst: 0 });
      expect(await (await post('/_sim/profiles', { [FALLBACK]: { failureRate: 0.5 } })).json()).toMatchObject({ [FALLBACK]: { failureRate: 0.5, supportsStrict: false } });
      expect((await post('/_sim/speed', { perLineDelayMs: 0 })).status).toBe(200);
      const stats = await (await fetch(`${sim.url}/_sim/stats`)).json();
      expect(stats).toMatchObject({ batchesCreated: sim.stats().batchesCreated, calls: expect.any(Object), outcomes: expect.any(Object) });
      expect((await post('/_sim/reset', {})).status).toBe(200);
      expect(sim.stats()).toEqual({
        calls: {},
        batchesCreated: 0,
        filesUploaded: 0,
        linesProcessed: {},
        outcomes: {},
        outcomeTotals: {},
        deviations: {},
        billed: { totalUsd: 0, byModel: {}, byBatch: {}, unpricedModels: [] },
      });
    });
  });

  describe('model behaviour', () => {
    it('accepts prAnalysisJsonSchema in strict mode on the gpt-oss models; the content conforms', async () => {
      sim.setProfile(CHEAP, { failureRate: 0, serverErrorRate: 0 });
      const batch = await runBatchToEnd(groq, [
        requestLine('strict-20b', { model: CHEAP, responseFormat: prAnalysisFormat(true) }),
        requestLine('strict-120b', { model: STRONG_REASONING, responseFormat: prAnalysisFormat(true) }),
      ]);
      const lines = await parsedLines(groq, batch.output_file_id);
      expect(lines).toHaveLength(2);
      for (const line of lines) {
        const message = line.response!.body.choices![0]!.message;
        expect(validPrAnalysis(JSON.parse(message.content))).toBe(true);
        expect(typeof message.reasoning).toBe('string');
      }
    });

    it('rejects strict mode with a non-strict-compatible schema, and strict mode on a model without it', async () => {
      const optional = { type: 'object', additionalProperties: false, required: ['a'], properties: { a: { type: 'string' }, b: { type: 'string' } } };
      const nullable = { type: 'object', additionalProperties: false, required: ['a'], properties: { a: { type: ['string', 'null'] } } };
      const open = { type: 'object', required: ['a'], properties: { a: { type: 'string' } } };
      const strictFormat = (schema: unknown) => ({ type: 'json_schema', json_schema: { name: 'other', strict: true, schema } });
      const batch = await runBatchToEnd(groq, [
        requestLine('s-optional', { responseFormat: strictFormat(optional) }),
        requestLine('s-nullable', { responseFormat: strictFormat(nullable) }),
        requestLine('s-open', { responseFormat: strictFormat(open) }),
        requestLine('s-llama', { model: FALLBACK, responseFormat: prAnalysisFormat(true) }),
        requestLine('ok-llama-nonstrict', { model: FALLBACK, responseFormat: prAnalysisFormat(false) }),
        requestLine('ok-llama-json-object', { model: FALLBACK, responseFormat: { type: 'json_object' } }),
        requestLine('ok-20b-nonstrict-open', { model: CHEAP, responseFormat: { type: 'json_schema', json_schema: { name: 'other', strict: false, schema: open } } }),
      ]);
      const seen = await outcomesById(groq, batch);
      for (const id of ['s-optional', 's-nullable', 's-open', 's-llama']) {
        expect(seen.get(id)!.response).toMatchObject({ status_code: 400, body: { error: { type: 'invalid_request_error' } } });
      }
      expect(seen.get('s-optional')!.response!.body.error).toMatchObject({ code: 'invalid_json_schema', message: expect.stringContaining('#/properties/b must be listed in required') });
      expect(seen.get('s-nullable')!.response!.body.error!.message).toContain('allows null');
      expect(seen.get('s-open')!.response!.body.error!.message).toContain('additionalProperties');
      expect(seen.get('s-llama')!.response!.body.error!.code).toBe('strict_mode_unsupported');
      for (const id of ['ok-llama-nonstrict', 'ok-llama-json-object', 'ok-20b-nonstrict-open']) expect(errorCode(seen.get(id))).toBe('ok');
      expect(JSON.parse(seen.get('ok-20b-nonstrict-open')!.response!.body.choices![0]!.message.content)).toEqual({ a: expect.any(String) });
    });

    it('is deterministic: same seed → same failed custom_ids and codes; another seed → others', async () => {
      const lines = ids('det', 400).map((id) => requestLine(id));
      const failures = async (seed: number) => {
        const fresh = await startGroqSimulator({ seed });
        try {
          const client = groqClient(fresh.url);
          const batch = await runBatchToEnd(client, lines);
          return (await parsedLines(client, batch.error_file_id)).map((l) => `${l.custom_id}:${errorCode(l)}`).sort();
        } finally {
          await fresh.stop();
        }
      };
      const first = await failures(11);
      expect(first.length).toBeGreaterThan(3);
      expect(await failures(11)).toEqual(first);
      expect(await failures(12)).not.toEqual(first);
    });

    it('fails the cheap model at its profile rate on 2,000 lines, mostly json_validate_failed; the strong models ~0 %', async () => {
      const sent = ids('rate', 2_000);
      const batch = await runBatchToEnd(groq, sent.map((id) => requestLine(id)));
      const errors = await parsedLines(groq, batch.error_file_id);
      const rate = errors.length / sent.length;
      expect(rate).toBeGreaterThan(0.03);
      expect(rate).toBeLessThan(0.055);
      const codes = errors.map(errorCode);
      const jsonShare = codes.filter((c) => c === 'json_validate_failed').length / codes.length;
      expect(jsonShare).toBeGreaterThan(0.8);
      expect(codes).toContain('max_tokens_exceeded');
      expect(new Set(codes)).toEqual(new Set(['json_validate_failed', 'max_tokens_exceeded', 'internal_server_error'].filter((c) => codes.includes(c))));
      const tooLong = errors.find((l) => errorCode(l) === 'max_tokens_exceeded')!;
      expect(tooLong.response).toMatchObject({ status_code: 400, body: { error: { type: 'invalid_request_error', message: expect.stringMatching(/max_tokens.*finish_reason: length/) } } });

      for (const model of [STRONG_REASONING, FALLBACK]) {
        sim.setProfile(model, { serverErrorRate: 0 });
        const strong = await runBatchToEnd(groq, ids(`rate-${model}`, 500).map((id) => requestLine(id, { model })));
        expect(strong.request_counts).toEqual({ total: 500, completed: 500, failed: 0 });
      }
    });

    it('output too long does not recur when the retry asks for more max_tokens', async () => {
      sim.setProfile(CHEAP, { failureRate: 1, jsonValidateShare: 0, serverErrorRate: 0 });
      const sent = ids('long', 20);
      const first = await runBatchToEnd(groq, sent.map((id) => requestLine(id, { maxTokens: 1_024 })));
      expect(first.request_counts.failed).toBe(20);
      const retry = await runBatchToEnd(groq, sent.map((id) => requestLine(id, { maxTokens: 4_096 })));
      expect(retry.request_counts).toEqual({ total: 20, completed: 20, failed: 0 });
      const usage = (await parsedLines(groq, retry.output_file_id)).map((l) => l.response!.body.usage!.completion_tokens);
      expect(Math.min(...usage)).toBeGreaterThan(1_024);
    });

    it('can report output too long as finish_reason "length" in the output file instead', async () => {
      const lengthy = await startGroqSimulator({ seed: 7, outputTooLongAs: 'finish_reason_length', profiles: { [CHEAP]: { ...CHEAP_MODEL_PROFILE, failureRate: 1, jsonValidateShare: 0, serverErrorRate: 0 } } });
      try {
        const client = groqClient(lengthy.url);
        const batch = await runBatchToEnd(client, [requestLine('len-1', { maxTokens: 1_000 })]);
        const [line] = await parsedLines(client, batch.output_file_id);
        expect(line!.response).toMatchObject({ status_code: 200, body: { choices: [{ finish_reason: 'length' }], usage: { completion_tokens: 1_000 } } });
        expect(() => JSON.parse(line!.response!.body.choices![0]!.message.content)).toThrow();
      } finally {
        await lengthy.stop();
      }
    });

    it('rejects an over-long input on every model with context_length_exceeded', async () => {
      const huge = 'x'.repeat(540_000);
      const models = [CHEAP, STRONG_REASONING, FALLBACK];
      const batch = await runBatchToEnd(groq, models.map((model) => requestLine(`ctx-${model}`, { model, pr: { body: huge } })));
      const lines = await parsedLines(groq, batch.error_file_id);
      expect(lines).toHaveLength(3);
      for (const line of lines) {
        expect(line.response).toEqual({
          status_code: 400,
          body: { error: { message: 'Please reduce the length of the messages or completion.', type: 'invalid_request_error', code: 'context_length_exceeded', param: 'messages' } },
        });
      }
    });

    it('per-line 5xx are transient: the same lines retried mostly succeed', async () => {
      sim.setProfile(FALLBACK, { serverErrorRate: 0.5 });
      const lines = ids('5xx', 200).map((id) => requestLine(id, { model: FALLBACK }));
      const failedIds = async () => {
        const batch = await runBatchToEnd(groq, lines);
        const errors = await parsedLines(groq, batch.error_file_id);
        expect(errors.every((l) => l.response!.status_code === 500 && l.response!.body.error!.type === 'internal_server_error')).toBe(true);
        return new Set(errors.map((l) => l.custom_id));
      };
      const first = await failedIds();
      const second = await failedIds();
      expect(first.size).toBeGreaterThan(60);
      const both = [...first].filter((id) => second.has(id)).length;
      expect(both).toBeLessThan(first.size * 0.75);
    });

    it('derives the analysis from the PR text: AI tools, change type, risk', async () => {
      const batch = await runBatchToEnd(groq, [
        requestLine('ai-claude', { model: FALLBACK, pr: { title: 'feat: cache tokens', body: 'Adds caching.\n\n🤖 Generated with [Claude Code](https://claude.com/claude-code)' } }),
        requestLine('ai-rabbit', { model: FALLBACK, pr: { title: 'refactor: split module', reviews: [{ author: 'coderabbitai[bot]', body: 'Walkthrough…' }] } }),
        requestLine('ai-none', { model: FALLBACK, pr: { title: 'docs: fix typo in README', additions: 900, deletions: 300, files: 30 } }),
      ]);
      const seen = await outcomesById(groq, batch);
      const analysis = (id: string) => JSON.parse(seen.get(id)!.response!.body.choices![0]!.message.content) as Record<string, unknown>;
      expect(analysis('ai-claude')).toMatchObject({ ai_assisted: true, ai_tools: ['Claude'], change_type: 'feature', risk_level: 'low' });
      expect(analysis('ai-rabbit')).toMatchObject({ ai_assisted: true, ai_tools: ['CodeRabbit'], change_type: 'refactor', ai_evidence: 'coderabbitai[bot]' });
      expect(analysis('ai-none')).toMatchObject({ ai_assisted: false, ai_tools: [], ai_evidence: '', change_type: 'docs', risk_level: 'high' });
    });
  });

  it('stop() closes the server and removes every file it wrote', async () => {
    const own = await startGroqSimulator();
    const client = groqClient(own.url);
    const batch = await runBatchToEnd(client, [requestLine('stop-1', { model: FALLBACK })]);
    expect(batch.status).toBe('completed');
    expect(existsSync(own.dataDir)).toBe(true);
    await own.stop();
    expect(existsSync(own.dataDir)).toBe(false);
    await expect(fetch(`${own.url}/openai/v1/files`, { headers: { authorization: 'Bearer t' } })).rejects.toThrow();
  });
});
