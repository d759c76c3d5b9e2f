import { collectOutcomes, parseBatchLine } from './parse.js';
import { describeBatchErrors, reconcileBatch } from './reconcile.js';

const analysis = {
  summary: 'Retries webhook delivery.',
  change_type: 'bugfix',
  risk_level: 'low',
  ai_assisted: true,
  ai_tools: ['Claude'],
  ai_evidence: 'Generated with Claude Code',
  confidence: 0.9,
};

function success(customId: string, content: string = JSON.stringify(analysis), finishReason = 'stop') {
  return JSON.stringify({
    id: 'batch_req_out_1',
    custom_id: customId,
    response: {
      status_code: 200,
      request_id: 'req_1',
      body: {
        id: 'chatcmpl-1',
        object: 'chat.completion',
        model: 'openai/gpt-oss-20b',
        choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: finishReason }],
        usage: { prompt_tokens: 812, completion_tokens: 143, total_tokens: 955 },
      },
    },
    error: null,
  });
}

/** The error line seen in a real Groq error file (Dec 2025), verbatim. */
const REAL_ERROR_LINE =
  '{"id": "batch_req_out_01kd9xbwxjfsvrz95mc0dh0mph", "custom_id": "pr-9953", "response": {"status_code": 400, "body": {"error": {"message": "Failed to validate JSON. Please adjust your prompt.", "type": "invalid_request_error", "code": "json_validate_failed", "failed_generation": ""}}}}';

async function* lines(...items: string[]) {
  for (const item of items) yield item;
}

describe('parseBatchLine', () => {
  it('reads a success with its validated analysis and usage', () => {
    expect(parseBatchLine(success('pr-1'), 'output', 1)).toMatchObject({
      kind: 'succeeded',
      customId: 'pr-1',
      analysis,
      usage: { promptTokens: 812, completionTokens: 143 },
      model: 'openai/gpt-oss-20b',
    });
  });

  it('reads the real json_validate_failed line with its failed_generation', () => {
    expect(parseBatchLine(REAL_ERROR_LINE, 'error', 1)).toEqual({
      kind: 'failed',
      customId: 'pr-9953',
      code: 'json_validate_failed',
      message: 'Failed to validate JSON. Please adjust your prompt.',
      httpStatus: 400,
      failedGeneration: '',
      raw: null,
      usage: null,
    });
  });

  it('normalises output-too-long failures from finish_reason, code or message', () => {
    expect(parseBatchLine(success('pr-2', '{"summary": "cut', 'length'), 'output', 1)).toMatchObject({ kind: 'failed', code: 'output_too_long', raw: '{"summary": "cut' });
    const byMessage = JSON.stringify({ custom_id: 'pr-3', response: { status_code: 400, body: { error: { message: 'Please increase max_tokens', type: 'invalid_request_error', code: 'invalid_request_error' } } } });
    expect(parseBatchLine(byMessage, 'error', 1)).toMatchObject({ code: 'output_too_long' });
  });

  it('reads a 5xx line and an OpenAI-style batch_expired line', () => {
    const serverError = JSON.stringify({ custom_id: 'pr-4', response: { status_code: 500, body: { error: { message: 'Internal Server Error', type: 'internal_server_error', code: null } } } });
    expect(parseBatchLine(serverError, 'error', 1)).toMatchObject({ code: 'internal_server_error', httpStatus: 500 });
    const expired = JSON.stringify({ custom_id: 'pr-5', response: null, error: { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' } });
    expect(parseBatchLine(expired, 'error', 1)).toMatchObject({ code: 'batch_expired', httpStatus: null });
  });

  it('fails content that is not JSON or breaks the schema as schema_invalid, keeping the raw text', () => {
    expect(parseBatchLine(success('pr-6', 'not json'), 'output', 1)).toMatchObject({ code: 'schema_invalid', raw: 'not json' });
    const { summary: _summary, ...withoutSummary } = analysis;
    const missing = parseBatchLine(success('pr-7', JSON.stringify(withoutSummary)), 'output', 1);
    expect(missing).toMatchObject({ kind: 'failed', code: 'schema_invalid' });
    if ('kind' in missing && missing.kind === 'failed') expect(missing.message).toMatch(/summary/);
    expect(parseBatchLine(success('pr-8', JSON.stringify({ ...analysis, confidence: 3 })), 'output', 1)).toMatchObject({ code: 'schema_invalid' });
  });

  it('attributes a truncated line to its request when the custom_id is readable, and keeps the rest as malformed', () => {
    const truncated = success('pr-9').slice(0, 60);
    expect(parseBatchLine(truncated, 'output', 4)).toMatchObject({ kind: 'failed', customId: 'pr-9', code: 'malformed_line' });
    expect(parseBatchLine('{"id": "x", "resp', 'output', 5)).toMatchObject({ lineNumber: 5, reason: expect.stringMatching(/not JSON/) });
  });
});

describe('collectOutcomes + reconcileBatch', () => {
  it('catches failures that appear only in the error file while the output file is fine (the bug that bit a real team)', async () => {
    const collected = await collectOutcomes([
      { source: 'output', lines: lines(success('pr-1'), success('pr-2')) },
      { source: 'error', lines: lines(REAL_ERROR_LINE) },
    ]);
    const reconciled = reconcileBatch(['pr-1', 'pr-2', 'pr-9953'], 'completed', collected.outcomes);
    expect(reconciled.succeeded.map((s) => s.customId)).toEqual(['pr-1', 'pr-2']);
    expect(reconciled.failed.map((f) => [f.customId, f.code])).toEqual([['pr-9953', 'json_validate_failed']]);
  });

  it('reads lines in any order and reports a custom_id seen twice instead of overwriting', async () => {
    const collected = await collectOutcomes([
      { source: 'output', lines: lines(success('pr-2'), success('pr-1'), success('pr-2')) },
      { source: 'error', lines: lines(JSON.stringify({ custom_id: 'pr-1', response: { status_code: 500, body: { error: { message: 'x', type: 'server_error' } } } })) },
    ]);
    expect(collected.duplicates).toEqual([
      { customId: 'pr-2', kept: 'succeeded', other: 'succeeded' },
      { customId: 'pr-1', kept: 'succeeded', other: 'failed' },
    ]);
    expect(collected.outcomes.get('pr-1')?.kind).toBe('succeeded');
  });

  it('marks ids absent from both files as missing, and names ids we never sent', async () => {
    const collected = await collectOutcomes([{ source: 'output', lines: lines(success('pr-1'), success('stranger')) }]);
    const reconciled = reconcileBatch(['pr-1', 'pr-2'], 'completed', collected.outcomes);
    expect(reconciled.failed).toEqual([expect.objectContaining({ customId: 'pr-2', code: 'missing' })]);
    expect(reconciled.unexpected).toEqual(['stranger']);
  });

  it.each([
    ['expired', 'batch_expired'],
    ['cancelled', 'batch_cancelled'],
    ['failed', 'batch_failed'],
  ])('fails the unfinished requests of a %s batch with %s and keeps the finished ones', async (status, code) => {
    const collected = await collectOutcomes([{ source: 'output', lines: lines(success('pr-1')) }]);
    const reconciled = reconcileBatch(['pr-1', 'pr-2', 'pr-3'], status, collected.outcomes);
    expect(reconciled.succeeded.map((s) => s.customId)).toEqual(['pr-1']);
    expect(reconciled.failed.map((f) => f.code)).toEqual([code, code]);
  });

  it('accounts for every id of an all-failed batch that has no output file', async () => {
    const collected = await collectOutcomes([{ source: 'error', lines: lines(REAL_ERROR_LINE) }]);
    const reconciled = reconcileBatch(['pr-9953'], 'completed', collected.outcomes);
    expect(reconciled.failed).toHaveLength(1);
    expect(reconciled.succeeded).toHaveLength(0);
  });

  it('accepts batch errors as a list object or a bare array', () => {
    const data = [{ code: 'invalid_json_line', message: 'This line is not parseable as valid JSON.', param: null, line: 3 }];
    expect(describeBatchErrors({ object: 'list', data })).toBe('invalid_json_line (line 3): This line is not parseable as valid JSON.');
    expect(describeBatchErrors(data)).toBe(describeBatchErrors({ object: 'list', data }));
    expect(describeBatchErrors(null)).toBeNull();
  });
});
