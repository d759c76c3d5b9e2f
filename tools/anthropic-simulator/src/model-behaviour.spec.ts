import { validatePrAnalysis } from '../../../libs/groq-batch/src/pr-analysis/validate.js';
import { answerMessageRequest } from './message-answer.js';
import { CHEAP_CLAUDE_PROFILE, STRONG_CLAUDE_PROFILE } from './options.js';
import { type AnthropicSimulator, startAnthropicSimulator } from './simulator.js';
import { anthropicClient, batchRequest, HAIKU, ids, resultsOf, SONNET } from './testing/batch-fixtures.js';

const answer = (customId: string, params: Record<string, unknown>, profile = CHEAP_CLAUDE_PROFILE, attempt = 1) =>
  answerMessageRequest(customId, params, { seed: 3, model: String(params.model), profile, attempt, digest: 'd' });
const paramsOf = (request: ReturnType<typeof batchRequest>) => request.params as unknown as Record<string, unknown>;

describe('the simulated Claude models', () => {
  it('follow the schema under structured outputs, and sometimes break it without', () => {
    const failing = { ...CHEAP_CLAUDE_PROFILE, failureRate: 1, invalidOutputShare: 1, refusalRate: 0, serverErrorRate: 0 };
    const structured = ids('s', 50).map((id) => answer(id, paramsOf(batchRequest(id)), failing));
    expect(new Set(structured.map((a) => a.outcome))).toEqual(new Set(['ok']));
    const free = ids('s', 50).map((id) => answer(id, paramsOf(batchRequest(id, { schema: null })), failing));
    expect(new Set(free.map((a) => a.outcome))).toEqual(new Set(['invalid_json', 'schema_violation']));
    for (const a of free) {
      if (a.result.type !== 'succeeded') throw new Error('expected a succeeded result');
      expect(validatePrAnalysis(a.result.message.content[0]!.text).ok).toBe(false);
      expect(a.billed).not.toBeNull();
    }
  });

  it('cut long answers at max_tokens with stop_reason max_tokens, and finish them with more room', () => {
    const long = { ...STRONG_CLAUDE_PROFILE, failureRate: 1, invalidOutputShare: 0, refusalRate: 0, serverErrorRate: 0 };
    const cut = answer('long', paramsOf(batchRequest('long', { maxTokens: 512 })), long);
    expect(cut.result).toMatchObject({ type: 'succeeded', message: { stop_reason: 'max_tokens', usage: { output_tokens: 512 } } });
    expect(cut.billed).toEqual({ promptTokens: expect.any(Number), completionTokens: 512 });
    const roomy = answer('long', paramsOf(batchRequest('long', { maxTokens: 4_096 })), long);
    expect(roomy.result).toMatchObject({ type: 'succeeded', message: { stop_reason: 'end_turn' } });
  });

  it('refuse with stop_reason refusal, billed', () => {
    const refusing = { ...STRONG_CLAUDE_PROFILE, refusalRate: 1 };
    const refused = answer('r', paramsOf(batchRequest('r', { model: SONNET })), refusing);
    expect(refused).toMatchObject({ outcome: 'refusal', result: { message: { stop_reason: 'refusal' } }, billed: expect.any(Object) });
  });

  it('fail with api_error or overloaded_error per attempt, unbilled, so a retry usually goes through', () => {
    const shaky = { ...STRONG_CLAUDE_PROFILE, serverErrorRate: 0.5 };
    const first = ids('t', 100).map((id) => answer(id, paramsOf(batchRequest(id)), shaky, 1));
    const failed = first.filter((a) => a.result.type === 'errored');
    expect(new Set(failed.map((a) => a.outcome))).toEqual(new Set(['api_error', 'overloaded_error']));
    expect(failed.every((a) => a.billed === null)).toBe(true);
    const again = ids('t', 100).map((id) => answer(id, paramsOf(batchRequest(id)), shaky, 2));
    expect(again.filter((a, i) => first[i]!.result.type === 'errored' && a.result.type === 'succeeded').length).toBeGreaterThan(0);
  });

  it('decide from seed, request and model only', () => {
    const a = ids('d', 30).map((id) => answer(id, paramsOf(batchRequest(id, { schema: null }))).outcome);
    const b = ids('d', 30).map((id) => answer(id, paramsOf(batchRequest(id, { schema: null }))).outcome);
    expect(a).toEqual(b);
  });
});

describe('billing', () => {
  let sim: AnthropicSimulator;
  beforeAll(async () => {
    sim = await startAnthropicSimulator({ seed: 5 });
  });
  afterAll(() => sim.stop());

  it('bills succeeded requests only, at the batch price, matching the usage the results show', async () => {
    sim.setProfile(HAIKU, { serverErrorRate: 0.2 });
    const client = anthropicClient(sim.url);
    const created = await client.messages.batches.create({
      requests: [...ids('b', 60).map((id) => batchRequest(id)), batchRequest('bad', { model: 'claude-none' })],
    });
    await sim.idle();
    const results = await resultsOf(client, created.id);
    let input = 0;
    let output = 0;
    for (const { result } of results) {
      if (result.type !== 'succeeded') continue;
      input += result.message.usage.input_tokens;
      output += result.message.usage.output_tokens;
    }
    const tally = sim.stats().billed.byBatch[created.id]![HAIKU]!;
    expect(tally).toMatchObject({ lines: results.filter((r) => r.result.type === 'succeeded').length, promptTokens: input, completionTokens: output, unreportedLines: 0 });
    expect(tally.usd).toBeCloseTo((input * 0.5 + output * 2.5) / 1_000_000, 10);
    expect(results.filter((r) => r.result.type === 'errored').length).toBeGreaterThan(1);
    expect(sim.stats().billed.byModel['claude-none']).toBeUndefined();
  });
});
