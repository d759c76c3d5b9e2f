import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Ajv } from 'ajv';
import OpenAI, { BadRequestError, NotFoundError, toFile } from 'openai';
import { prAnalysisJsonSchema } from '../../../libs/groq-batch/src/pr-analysis/pr-analysis.schema.js';
import { ids, prAnalysisFormat, requestLine, TERMINAL, toJsonl } from '../../groq-simulator/src/testing/batch-fixtures.js';
import { NO_FAULTS, OPENAI_CHEAP_MODEL_PROFILE, type OpenAiSimulator, startOpenAiSimulator } from './simulator.js';

/** Contract tests: real HTTP, the unmodified openai SDK as the client. */
const validPrAnalysis = new Ajv({ strict: false }).compile(prAnalysisJsonSchema);
const CHEAP = 'gpt-4.1-mini';
const STRONG = 'gpt-4.1';

/** A request line for an OpenAI model, with strict structured outputs (every OpenAI profile supports them). */
const line = (customId: string, options: { model?: string; maxTokens?: number; responseFormat?: Record<string, unknown> } = {}) =>
  requestLine(customId, { model: options.model ?? CHEAP, maxTokens: options.maxTokens, responseFormat: options.responseFormat ?? prAnalysisFormat(true) });

interface Line {
  id: string;
  custom_id: string;
  response: {
    status_code: number;
    request_id: string;
    body: {
      model?: string;
      choices?: Array<{ message: { role: string; content: string | null; refusal: string | null }; finish_reason: string }>;
      usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number; completion_tokens_details?: unknown };
      error?: { message: string; type: string; code: string | null; param: string | null };
    };
  } | null;
  error: { code: string; message: string } | null;
}

describe('OpenAI Batch API simulator, through the openai SDK', () => {
  let sim: OpenAiSimulator;
  let openai: OpenAI;

  beforeAll(async () => {
    sim = await startOpenAiSimulator({ seed: 11 });
    openai = new OpenAI({ apiKey: 'sk-simulator-test-key', baseURL: sim.baseURL, maxRetries: 0, timeout: 20_000 });
  });
  afterAll(async () => {
    await sim.stop();
  });
  afterEach(() => {
    sim.setFaults({ ...NO_FAULTS });
    sim.setProfile(CHEAP, OPENAI_CHEAP_MODEL_PROFILE);
    sim.setSpeed({ perLineDelayMs: 0, stageDelayMs: 0 });
  });

  async function upload(lines: ReadonlyArray<unknown>): Promise<string> {
    return (await openai.files.create({ file: await toFile(Buffer.from(toJsonl(lines)), 'batch.jsonl'), purpose: 'batch' })).id;
  }

  async function create(lines: ReadonlyArray<unknown>, metadata: Record<string, string> = {}) {
    return openai.batches.create({ input_file_id: await upload(lines), endpoint: '/v1/chat/completions', completion_window: '24h', metadata });
  }

  async function untilTerminal(batchId: string) {
    for (;;) {
      const batch = await openai.batches.retrieve(batchId);
      if (TERMINAL.includes(batch.status)) return batch;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  async function lines(fileId: string | null | undefined): Promise<Line[]> {
    if (!fileId) return [];
    const text = await (await openai.files.content(fileId)).text();
    return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
  }

  it('serves /v1 routes, not Groq\'s /openai/v1', async () => {
    expect(sim.baseURL).toBe(`${sim.url}/v1`);
    const groqRoute = await fetch(`${sim.url}/openai/v1/batches`, { headers: { authorization: 'Bearer x' } });
    expect(groqRoute.status).toBe(404);
    await expect(openai.batches.retrieve('batch_doesnotexist')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('runs a strict structured-output batch: every 200 answer follows the schema, lines in OpenAI\'s shape', async () => {
    const batch = await untilTerminal((await create(ids('ok', 200).map((id) => line(id)), { cascade_batch_key: 'k-1' })).id);
    expect(batch).toMatchObject({ status: 'completed', completion_window: '24h', metadata: { cascade_batch_key: 'k-1' }, request_counts: { total: 200 } });
    const output = await lines(batch.output_file_id);
    expect(output.length).toBeGreaterThan(180);
    for (const l of output) {
      expect(l.error).toBeNull();
      expect(l.response!.request_id).toMatch(/^req_/);
      const choice = l.response!.body.choices![0]!;
      if (choice.finish_reason === 'length' || choice.message.refusal) continue;
      expect(choice.message.refusal).toBeNull();
      expect(validPrAnalysis(JSON.parse(choice.message.content!))).toBe(true);
    }
    // What fails is Groq-free: no json_validate_failed, only per-line 5xx in the error file.
    for (const l of await lines(batch.error_file_id)) expect(l).toMatchObject({ response: { status_code: 500, body: { error: { type: 'server_error', code: null } } }, error: null });
  });

  it('answers a refusal with message.refusal and null content, and a cut output as a 200 line with finish_reason length', async () => {
    sim.setProfile(CHEAP, { refusalRate: 1, serverErrorRate: 0 });
    const refused = await untilTerminal((await create([line('r-1')])).id);
    const [refusal] = await lines(refused.output_file_id);
    expect(refusal!.response!.body.choices![0]).toMatchObject({ message: { content: null, refusal: expect.any(String) }, finish_reason: 'stop' });
    expect(sim.stats().outcomes[refused.id]).toEqual({ 'r-1': 'refusal' });

    sim.setProfile(CHEAP, { refusalRate: 0, failureRate: 1 });
    const cut = await untilTerminal((await create([line('l-1', { maxTokens: 1_024 }), line('l-2', { maxTokens: 4_096 })])).id);
    const byId = new Map((await lines(cut.output_file_id)).map((l) => [l.custom_id, l]));
    expect(byId.get('l-1')!.response!.body).toMatchObject({ choices: [{ finish_reason: 'length' }], usage: { completion_tokens: 1_024 } });
    expect(byId.get('l-2')!.response!.body.choices![0]!.finish_reason).toBe('stop');
    expect(cut.error_file_id).toBeNull();
  });

  it('accepts a nullable property in a strict schema (OpenAI allows it) and refuses one without additionalProperties: false', async () => {
    const schema = (extra: Record<string, unknown>) => ({
      type: 'json_schema',
      json_schema: { name: 'note', strict: true, schema: { type: 'object', required: ['text'], properties: { text: { type: ['string', 'null'] } }, ...extra } },
    });
    const batch = await untilTerminal((await create([line('s-1', { model: STRONG, responseFormat: schema({ additionalProperties: false }) }), line('s-2', { model: STRONG, responseFormat: schema({}) })])).id);
    expect((await lines(batch.output_file_id)).map((l) => l.custom_id)).toEqual(['s-1']);
    expect((await lines(batch.error_file_id))[0]).toMatchObject({ custom_id: 's-2', response: { status_code: 400, body: { error: { code: 'invalid_json_schema' } } } });
  });

  it('accepts only the 24h window and at most 16 metadata pairs, with a 400', async () => {
    const input = await upload([line('w-1')]);
    await expect(openai.batches.create({ input_file_id: input, endpoint: '/v1/chat/completions', completion_window: '48h' as '24h' })).rejects.toMatchObject({
      status: 400,
      error: { param: 'completion_window' },
    });
    const metadata = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v']));
    await expect(openai.batches.create({ input_file_id: input, endpoint: '/v1/chat/completions', completion_window: '24h', metadata })).rejects.toBeInstanceOf(BadRequestError);
  });

  it('pages batches and files the OpenAI way, so the SDK\'s auto-pagination sees every one', async () => {
    const created = [];
    for (let i = 0; i < 5; i++) created.push((await create([line(`p-${i}`)])).id);
    const first = await openai.batches.list({ limit: 2 });
    expect(first.data.map((b) => b.id)).toEqual([created[4], created[3]]);
    expect(first.has_more).toBe(true);
    expect((await openai.batches.list({ limit: 2, after: created[3] })).data.map((b) => b.id)).toEqual([created[2], created[1]]);
    const all: string[] = [];
    for await (const batch of openai.batches.list({ limit: 2 })) all.push(batch.id);
    expect(all.slice(0, 5)).toEqual([...created].reverse());
    await expect(openai.batches.list({ limit: 101 })).rejects.toBeInstanceOf(BadRequestError);

    const files: string[] = [];
    for await (const file of openai.files.list({ limit: 3 })) files.push(file.id);
    expect(new Set(files).size).toBe(files.length);
    expect(files.length).toBeGreaterThan(5);
  });

  it('expires part-way: finished lines kept, the rest in the error file as batch_expired with no response', async () => {
    sim.setFaults({ expireAfterFraction: 0.5 });
    const batch = await untilTerminal((await create(ids('e', 10).map((id) => line(id, { model: STRONG })))).id);
    expect(batch.status).toBe('expired');
    const unfinished = (await lines(batch.error_file_id)).filter((l) => l.error?.code === 'batch_expired');
    expect(unfinished).toHaveLength(5);
    expect(unfinished.every((l) => l.response === null)).toBe(true);
  });

  it('cancels: cancelling, then cancelled with the unfinished lines as batch_cancelled', async () => {
    sim.setSpeed({ perLineDelayMs: 20 });
    const created = await create(ids('c', 50).map((id) => line(id, { model: STRONG })));
    // Cancel once some lines have run: cancelled while validating, a batch has no files at all.
    while ((await openai.batches.retrieve(created.id)).request_counts!.completed < 3) await new Promise((resolve) => setTimeout(resolve, 5));
    expect((await openai.batches.cancel(created.id)).status).toBe('cancelling');
    const batch = await untilTerminal(created.id);
    expect(batch.status).toBe('cancelled');
    expect((await lines(batch.error_file_id)).filter((l) => l.error?.code === 'batch_cancelled').length).toBeGreaterThan(0);
  });

  it('fails validation for a model OpenAI does not have', async () => {
    const batch = await untilTerminal((await create([line('m-1', { model: 'openai/gpt-oss-20b' })])).id);
    expect(batch).toMatchObject({ status: 'failed', errors: { data: [{ code: 'model_not_found', line: 1 }] } });
  });
});
