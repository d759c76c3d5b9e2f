import { isOutputTooLong, normaliseFailureCode } from './classify.js';
import type { LineOutcome, MalformedLine } from './outcome.js';
import { collectOutcomes, parseBatchLine } from './parse.js';
import {
  asyncLines,
  errorLine,
  jsonValidateFailedLine,
  REAL_ERROR_LINE,
  successLine,
  unfinishedLine,
  VALID_ANALYSIS,
} from './testing/groq-lines.js';

function outcome(parsed: LineOutcome | MalformedLine): LineOutcome {
  if (!('kind' in parsed)) throw new Error(`expected an attributed outcome, got unreadable line ${parsed.lineNumber}: ${parsed.reason}`);
  return parsed;
}

describe('parseBatchLine', () => {
  it('reads a success: content string, validated analysis, usage, model and finish_reason', () => {
    const parsed = outcome(parseBatchLine(successLine('pr-1', { reasoning: 'The title says fix.' }), 'output', 7));
    expect(parsed).toEqual({
      kind: 'succeeded',
      customId: 'pr-1',
      content: JSON.stringify(VALID_ANALYSIS),
      analysis: VALID_ANALYSIS,
      normalised: [],
      usage: { promptTokens: 812, completionTokens: 143 },
      model: 'openai/gpt-oss-20b',
      finishReason: 'stop',
      source: 'output',
      lineNumber: 7,
    });
  });

  it('accepts a repeated tool in a fenced answer as a success, with its flags, at the batch\'s prompt version', () => {
    const content = `\`\`\`json\n${JSON.stringify({ ...VALID_ANALYSIS, ai_tools: ['Claude', 'Claude'] })}\n\`\`\``;
    for (const promptVersion of ['pr-analysis-v1', 'pr-analysis-v2']) {
      expect(parseBatchLine(successLine('pr-2', { content }), 'output', 1, { promptVersion })).toMatchObject({
        kind: 'succeeded',
        analysis: VALID_ANALYSIS,
        normalised: ['content: removed a code fence', 'ai_tools: removed 1 repeated item'],
      });
    }
    expect(() => parseBatchLine(successLine('pr-2', { content }), 'output', 1, { promptVersion: 'pr-analysis-v0' })).toThrow(/unknown prompt version "pr-analysis-v0"/);
  });

  it('reads the real json_validate_failed error line', () => {
    expect(parseBatchLine(REAL_ERROR_LINE, 'error', 1)).toEqual({
      kind: 'provider_error',
      customId: 'pr-9953',
      httpStatus: 400,
      code: 'json_validate_failed',
      providerCode: 'json_validate_failed',
      type: 'invalid_request_error',
      message: 'Failed to validate JSON. Please adjust your prompt.',
      failedGeneration: '',
      usage: null,
      source: 'error',
      lineNumber: 1,
    });
  });

  it('keeps the failed_generation of a json_validate_failed line', () => {
    const parsed = outcome(parseBatchLine(jsonValidateFailedLine('pr-2', '{"summary": "Adds'), 'error', 3));
    expect(parsed).toMatchObject({ kind: 'provider_error', code: 'json_validate_failed', httpStatus: 400, failedGeneration: '{"summary": "Adds' });
  });

  it('files finish_reason "length" as output_too_long, keeping the cut content', () => {
    const parsed = outcome(parseBatchLine(successLine('pr-3', { content: '{"summary": "cut', finishReason: 'length' }), 'output', 1));
    expect(parsed).toMatchObject({ kind: 'invalid_output', code: 'output_too_long', raw: '{"summary": "cut', finishReason: 'length' });
  });

  it('files an error line about max tokens as output_too_long and keeps the provider code', () => {
    const line = errorLine('pr-4', 400, {
      message: 'The model output exceeded max_tokens (1024) before the JSON was complete. Please increase max_tokens.',
      type: 'invalid_request_error',
      code: 'max_tokens_exceeded',
    });
    expect(outcome(parseBatchLine(line, 'error', 1))).toMatchObject({ kind: 'provider_error', code: 'output_too_long', providerCode: 'max_tokens_exceeded' });
  });

  it('reads a 5xx line with no code, and an OpenAI-style batch_expired line with no response', () => {
    const serverError = errorLine('pr-5', 500, { message: 'Internal Server Error', type: 'internal_server_error' });
    expect(outcome(parseBatchLine(serverError, 'error', 1))).toMatchObject({ kind: 'provider_error', code: 'internal_server_error', providerCode: null, httpStatus: 500 });
    const bare = JSON.stringify({ custom_id: 'pr-6', response: { status_code: 503, body: null } });
    expect(outcome(parseBatchLine(bare, 'error', 2))).toMatchObject({ kind: 'provider_error', code: 'http_503', httpStatus: 503 });
    expect(outcome(parseBatchLine(unfinishedLine('pr-7', 'batch_expired'), 'error', 3))).toMatchObject({ kind: 'provider_error', code: 'batch_expired', httpStatus: null });
  });

  it('fails content that is not JSON as schema_invalid, keeping the raw text', () => {
    expect(outcome(parseBatchLine(successLine('pr-8', { content: 'Sure! Here is the analysis:' }), 'output', 1))).toMatchObject({
      kind: 'invalid_output',
      code: 'schema_invalid',
      raw: 'Sure! Here is the analysis:',
      message: expect.stringMatching(/not JSON/),
    });
  });

  it('fails content missing a required property as schema_invalid, naming the property', () => {
    const { summary: _summary, ...withoutSummary } = VALID_ANALYSIS;
    const parsed = outcome(parseBatchLine(successLine('pr-9', { content: JSON.stringify(withoutSummary) }), 'output', 1));
    expect(parsed).toMatchObject({ kind: 'invalid_output', code: 'schema_invalid', validationErrors: ['/: missing required property summary'] });
  });

  it('fails a 200 line without message content as schema_invalid', () => {
    const line = JSON.parse(successLine('pr-10')) as { response: { body: { choices: Array<{ message: { content: unknown } }> } } };
    line.response.body.choices[0]!.message.content = null;
    expect(outcome(parseBatchLine(JSON.stringify(line), 'output', 1))).toMatchObject({ kind: 'invalid_output', code: 'schema_invalid' });
  });

  it('attributes a truncated line to its request when the custom_id is readable, and keeps the rest as unreadable', () => {
    const truncated = successLine('pr-11').slice(0, 80);
    expect(outcome(parseBatchLine(truncated, 'output', 4))).toMatchObject({ kind: 'malformed', customId: 'pr-11', code: 'malformed_line', raw: truncated, lineNumber: 4 });
    expect(parseBatchLine('{"id": "x", "resp', 'output', 5)).toEqual({ source: 'output', lineNumber: 5, raw: '{"id": "x", "resp', reason: expect.stringMatching(/not JSON/) });
    expect(parseBatchLine('[1, 2]', 'error', 6)).toMatchObject({ lineNumber: 6, reason: 'not a JSON object' });
    expect(parseBatchLine('{"response": {}}', 'error', 7)).toMatchObject({ lineNumber: 7, reason: 'no custom_id' });
  });

  it('calls a line with a custom_id but neither response nor error malformed', () => {
    expect(outcome(parseBatchLine('{"custom_id": "pr-12"}', 'output', 1))).toMatchObject({ kind: 'malformed', customId: 'pr-12' });
  });
});

/** Lines as OpenAI's Batch API writes them (openai-python `batch_request_output.py`, chat.completion bodies). */
describe('parseBatchLine on OpenAI lines', () => {
  const answer = (customId: string, message: Record<string, unknown>, finishReason = 'stop') =>
    JSON.stringify({
      id: `batch_req_${customId}`,
      custom_id: customId,
      response: {
        status_code: 200,
        request_id: `req_${customId}`,
        body: {
          id: 'chatcmpl-1',
          object: 'chat.completion',
          created: 1_766_000_000,
          model: 'gpt-4.1-mini-2025-04-14',
          choices: [{ index: 0, message: { role: 'assistant', annotations: [], ...message }, logprobs: null, finish_reason: finishReason }],
          usage: { prompt_tokens: 700, completion_tokens: 90, total_tokens: 790, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } },
          service_tier: 'default',
          system_fingerprint: 'fp_1',
        },
      },
      error: null,
    });
  const unanswered = (customId: string, code: string, message: string) => JSON.stringify({ id: `batch_req_${customId}`, custom_id: customId, response: null, error: { code, message } });

  it('reads a strict structured-output answer (refusal: null) as a success', () => {
    expect(parseBatchLine(answer('pr-1', { content: JSON.stringify(VALID_ANALYSIS), refusal: null }), 'output', 1)).toMatchObject({
      kind: 'succeeded',
      model: 'gpt-4.1-mini-2025-04-14',
      usage: { promptTokens: 700, completionTokens: 90 },
    });
  });

  it('files a refusal as invalid output with code refusal, keeping its text and usage', () => {
    expect(parseBatchLine(answer('pr-2', { content: null, refusal: "I'm sorry, I can't help with that request." }), 'output', 2)).toMatchObject({
      kind: 'invalid_output',
      code: 'refusal',
      message: "the model refused: I'm sorry, I can't help with that request.",
      raw: "I'm sorry, I can't help with that request.",
      usage: { promptTokens: 700, completionTokens: 90 },
    });
  });

  it('files an answer cut at max_tokens (finish_reason length) as output_too_long', () => {
    expect(parseBatchLine(answer('pr-3', { content: '{"summary":"Adds ret', refusal: null }, 'length'), 'output', 3)).toMatchObject({ kind: 'invalid_output', code: 'output_too_long', raw: '{"summary":"Adds ret' });
  });

  it.each([
    ['batch_expired', 'This request could not be executed before the completion window expired.'],
    ['batch_cancelled', 'This request was not executed because the batch was cancelled.'],
    ['request_timeout', 'The request timed out.'],
  ])('reads an error-file line without an HTTP answer: %s', (code, message) => {
    expect(parseBatchLine(unanswered('pr-4', code, message), 'error', 4)).toMatchObject({ kind: 'provider_error', customId: 'pr-4', httpStatus: null, code, providerCode: code, message });
  });

  it('reads an HTTP error line: status, type and code of the body', () => {
    const line = JSON.stringify({
      id: 'batch_req_5',
      custom_id: 'pr-5',
      response: { status_code: 500, request_id: 'req_5', body: { error: { message: 'The server had an error processing your request.', type: 'server_error', param: null, code: null } } },
      error: null,
    });
    expect(parseBatchLine(line, 'error', 5)).toMatchObject({ kind: 'provider_error', httpStatus: 500, code: 'server_error', providerCode: null, type: 'server_error' });
  });
});

describe('output-too-long classifier', () => {
  it.each([
    [{ finishReason: 'length' }, true],
    [{ code: 'max_tokens_exceeded', message: 'x' }, true],
    [{ code: 'invalid_request_error', message: 'Please increase max_tokens: maximum completion tokens reached' }, true],
    [{ code: null, message: 'The output was truncated' }, true],
    [{ code: 'json_validate_failed', message: 'Failed to validate JSON. Please adjust your prompt.' }, false],
    [{ code: 'context_length_exceeded', message: 'Please reduce the length of the messages or completion; max tokens exceeded' }, false],
    [{ code: 'invalid_request_error', message: '`max_completion_tokens` must be less than or equal to `65536`' }, false],
    [{ finishReason: 'stop' }, false],
  ])('%j → %s', (signals, expected) => {
    expect(isOutputTooLong(signals)).toBe(expected);
  });

  it('normalises every spelling to output_too_long and leaves other codes alone', () => {
    expect(normaliseFailureCode({ code: 'max_tokens_exceeded' })).toBe('output_too_long');
    expect(normaliseFailureCode({ code: 'length_limit', finishReason: 'length' })).toBe('output_too_long');
    expect(normaliseFailureCode({ code: 'json_validate_failed', message: 'Failed to validate JSON.' })).toBe('json_validate_failed');
  });
});

describe('collectOutcomes', () => {
  it('reads lines in any order, one outcome per custom_id, counting lines per file', async () => {
    const collected = await collectOutcomes([
      { source: 'output', lines: asyncLines(successLine('pr-3'), '', successLine('pr-1')) },
      { source: 'error', lines: [REAL_ERROR_LINE] },
    ]);
    expect([...collected.outcomes.keys()].sort()).toEqual(['pr-1', 'pr-3', 'pr-9953']);
    expect(collected.outcomes.get('pr-1')).toMatchObject({ kind: 'succeeded', lineNumber: 3 });
    expect(collected.linesBySource).toEqual({ output: 2, error: 1 });
    expect(collected.duplicates).toEqual([]);
  });

  it('reports a custom_id seen twice instead of overwriting it; a valid answer beats a failure', async () => {
    const collected = await collectOutcomes([
      { source: 'output', lines: asyncLines(successLine('pr-2'), successLine('pr-1'), successLine('pr-2', { content: '{}' })) },
      { source: 'error', lines: asyncLines(errorLine('pr-1', 500, { message: 'x', type: 'server_error' })) },
    ]);
    expect(collected.duplicates).toEqual([
      { customId: 'pr-2', kept: 'succeeded', other: 'invalid_output', keptAt: { source: 'output', lineNumber: 1 }, otherAt: { source: 'output', lineNumber: 3 } },
      { customId: 'pr-1', kept: 'succeeded', other: 'provider_error', keptAt: { source: 'output', lineNumber: 2 }, otherAt: { source: 'error', lineNumber: 1 } },
    ]);
    expect(collected.outcomes.get('pr-2')?.kind).toBe('succeeded');

    const failureFirst = await collectOutcomes([
      { source: 'error', lines: [REAL_ERROR_LINE] },
      { source: 'output', lines: [successLine('pr-9953')] },
    ]);
    expect(failureFirst.outcomes.get('pr-9953')?.kind).toBe('succeeded');
    expect(failureFirst.duplicates).toHaveLength(1);
  });

  it('keeps unreadable lines with their text and line number', async () => {
    const collected = await collectOutcomes([{ source: 'output', lines: ['not json at all', successLine('pr-1')] }]);
    expect(collected.malformed).toEqual([{ source: 'output', lineNumber: 1, raw: 'not json at all', reason: expect.stringMatching(/not JSON/) }]);
    expect(collected.outcomes.size).toBe(1);
  });
});
