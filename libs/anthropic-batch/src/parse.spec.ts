import { classifyFailure, promptRegistry } from '#groq-batch';
import { collectAnthropicOutcomes, parseAnthropicResultLine, REFUSAL_CODE } from './parse.js';

const validate = promptRegistry().get('pr-analysis-v1').validate;
const analysis = { summary: 'Fixes a loop.', change_type: 'bugfix', risk_level: 'low', ai_assisted: false, ai_tools: [], ai_evidence: '', confidence: 0.8 };
const usage = { input_tokens: 700, output_tokens: 60, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, service_tier: 'batch' };

function succeeded(customId: string, text: string, stopReason = 'end_turn'): string {
  return JSON.stringify({
    custom_id: customId,
    result: { type: 'succeeded', message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-haiku-4-5', content: [{ type: 'text', text }], stop_reason: stopReason, usage } },
  });
}
const errored = (customId: string, type: string, message = 'oops') =>
  JSON.stringify({ custom_id: customId, result: { type: 'errored', error: { type: 'error', error: { type, message }, request_id: 'req_9' } } });
const parse = (raw: string) => parseAnthropicResultLine(raw, 3, { validate });

describe('parseAnthropicResultLine', () => {
  it('validates a succeeded answer as the analysis, with usage', () => {
    expect(parse(succeeded('a', JSON.stringify(analysis)))).toMatchObject({
      kind: 'succeeded',
      customId: 'a',
      analysis,
      usage: { promptTokens: 700, completionTokens: 60 },
      model: 'claude-haiku-4-5',
      finishReason: 'end_turn',
      source: 'output',
      lineNumber: 3,
    });
  });

  it('files an answer that breaks the schema or is not JSON as schema_invalid', () => {
    expect(parse(succeeded('a', JSON.stringify({ ...analysis, risk_level: 'huge' })))).toMatchObject({ kind: 'invalid_output', code: 'schema_invalid', usage: { completionTokens: 60 } });
    expect(parse(succeeded('a', 'Here is the analysis: {'))).toMatchObject({ kind: 'invalid_output', code: 'schema_invalid' });
  });

  it('files stop_reason max_tokens as output_too_long, keeping the billed usage', () => {
    const outcome = parse(succeeded('a', '{"summary":"Fix', 'max_tokens'));
    expect(outcome).toMatchObject({ kind: 'invalid_output', code: 'output_too_long', finishReason: 'max_tokens', usage: { promptTokens: 700, completionTokens: 60 }, raw: '{"summary":"Fix' });
    expect(classifyFailure({ code: 'output_too_long', message: (outcome as { message: string }).message, httpStatus: null })).toBe('output_too_long');
  });

  it('files a refusal under its own code, billed, for a stronger model to try', () => {
    const outcome = parse(succeeded('a', "I can't help with that.", 'refusal'));
    expect(outcome).toMatchObject({ kind: 'invalid_output', code: REFUSAL_CODE, usage: { completionTokens: 60 }, raw: "I can't help with that." });
    expect(classifyFailure({ code: REFUSAL_CODE, message: 'declined', httpStatus: null })).toBe('invalid_output');
  });

  it.each([
    ['rate_limit_error', 'transient'],
    ['overloaded_error', 'transient'],
    ['api_error', 'transient'],
    ['timeout_error', 'transient'],
    ['invalid_request_error', 'permanent'],
    ['not_found_error', 'permanent'],
  ])('files an errored %s as a provider error under its type (%s)', (type, failureClass) => {
    const outcome = parse(errored('a', type));
    expect(outcome).toMatchObject({ kind: 'provider_error', code: type, type, httpStatus: null, usage: null, message: 'oops (request_id req_9)' });
    expect(classifyFailure({ code: type, message: 'oops', httpStatus: null })).toBe(failureClass);
  });

  it('files canceled and expired as batch_cancelled and batch_expired', () => {
    expect(parse(JSON.stringify({ custom_id: 'a', result: { type: 'canceled' } }))).toMatchObject({ kind: 'provider_error', code: 'batch_cancelled' });
    expect(parse(JSON.stringify({ custom_id: 'a', result: { type: 'expired' } }))).toMatchObject({ kind: 'provider_error', code: 'batch_expired' });
  });

  it('keeps a broken line: attributed when its custom_id can be read, else a MalformedLine', () => {
    expect(parse('{"custom_id":"a","result":{"type":"succ')).toMatchObject({ kind: 'malformed', customId: 'a', code: 'malformed_line' });
    expect(parse('{"result":')).toMatchObject({ reason: expect.stringMatching(/not JSON/), lineNumber: 3 });
    expect(parse(JSON.stringify({ custom_id: 'a', result: { type: 'weird' } }))).toMatchObject({ kind: 'malformed', customId: 'a' });
    expect(parse(JSON.stringify({ result: {} }))).toMatchObject({ reason: 'no custom_id' });
  });
});

describe('collectAnthropicOutcomes', () => {
  it('gives one outcome per custom_id, a valid answer winning over a failure, duplicates reported', async () => {
    const collected = await collectAnthropicOutcomes(
      [errored('a', 'api_error'), succeeded('a', JSON.stringify(analysis)), '', succeeded('b', 'nope'), 'garbage'],
      { validate },
    );
    expect(collected.outcomes.get('a')?.kind).toBe('succeeded');
    expect(collected.outcomes.get('b')?.kind).toBe('invalid_output');
    expect(collected.duplicates).toEqual([expect.objectContaining({ customId: 'a', kept: 'succeeded', other: 'provider_error' })]);
    expect(collected.malformed).toHaveLength(1);
    expect(collected.lines).toBe(4);
  });
});
