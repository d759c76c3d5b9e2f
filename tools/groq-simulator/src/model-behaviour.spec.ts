import { describe, expect, it } from '@jest/globals';
import { Ajv } from 'ajv';
import { prAnalysisJsonSchema } from '../../../libs/groq-batch/src/pr-analysis/pr-analysis.schema.js';
import { type AnswerContext, answerChatRequest, type ApiErrorBody, type ChatCompletion, lineDigest } from './line-answer.js';
import { CHEAP_MODEL_PROFILE, type ModelProfile, OPENAI_CHEAP_MODEL_PROFILE, parseFaults, parseProfile, STRONG_MODEL_PROFILE } from './options.js';
import { analysePullRequest, classifyChange, detectAiTools, isPrAnalysisSchema, valueForSchema } from './pr-analysis-content.js';
import { OPENAI_STRICT_RULES, strictSchemaProblems } from './strict-schema.js';
import { CHEAP, FALLBACK, prUserText, requestLine } from './testing/batch-fixtures.js';

const ajv = new Ajv({ strict: false, validateFormats: false });
const validPrAnalysis = ajv.compile(prAnalysisJsonSchema);

function answer(customId: string, line: Record<string, unknown>, profile: ModelProfile, overrides: Partial<AnswerContext> = {}) {
  const body = line.body as Record<string, unknown>;
  return answerChatRequest(customId, body, {
    seed: 1,
    model: String(body.model),
    profile,
    attempt: 1,
    outputTooLongAs: 'error',
    nowSeconds: 1_765_000_000,
    digest: lineDigest(JSON.stringify(line)),
    ...overrides,
  });
}

describe('strictSchemaProblems', () => {
  it('accepts the PR-analysis contract', () => {
    expect(strictSchemaProblems(prAnalysisJsonSchema)).toEqual([]);
  });

  it('names every violation with its pointer, nested objects, arrays and $defs included', () => {
    const schema = {
      type: 'object',
      additionalProperties: false,
      required: ['a', 'list'],
      properties: {
        a: { type: 'string' },
        b: { type: ['number', 'null'] },
        list: { type: 'array', items: { type: 'object', properties: { x: { type: 'string' } }, required: ['x'] } },
      },
      $defs: { d: { anyOf: [{ type: 'string' }, { type: 'null' }] } },
    };
    expect(strictSchemaProblems(schema)).toEqual([
      '#/properties/b must be listed in required',
      '#/properties/b allows null',
      '#/properties/list/items must set additionalProperties: false',
      '#/$defs/d/anyOf/1 allows null',
    ]);
  });
});

describe('the PR analysis the simulated model writes', () => {
  it.each([
    ['🤖 Generated with [Claude Code](https://claude.com/claude-code)', ['Claude']],
    ['review by coderabbitai[bot]: Walkthrough', ['CodeRabbit']],
    ['author: devin-ai-integration[bot]', ['Devin']],
    ['review by cubic-dev-ai[bot]: 2 issues found', ['Cubic']],
    ['Co-authored-by: Cursor Agent <cursoragent@cursor.com>', ['Cursor']],
    ['review by copilot-pull-request-reviewer[bot]: looks fine', ['Copilot']],
    ['Summary by CodeRabbit, and Generated with Claude Code', ['CodeRabbit', 'Claude']],
    ['A database cursor is now closed after use.', []],
    ['Plain change, no tools.', []],
  ])('finds AI tools in %j', (text, tools) => {
    expect(detectAiTools(text).tools).toEqual(tools);
  });

  it.each([
    ['fix: retry loop never stops', 'bugfix'],
    ['feat(api): add batch status endpoint', 'feature'],
    ['chore(deps): bump kafkajs from 2.2.3 to 2.2.4', 'dependency'],
    ['Bump pg from 8.11 to 8.12', 'dependency'],
    ['refactor: split the poller', 'refactor'],
    ['docs: explain reconcile', 'docs'],
    ['test: cover expired batches', 'test'],
    ['perf: stream output files', 'performance'],
    ['Fix XSS in the PR body renderer', 'security'],
    ['ci: cache node_modules', 'chore'],
    ['[PLAT-12] Fix flaky login', 'bugfix'],
    ['Quarterly update', 'other'],
  ])('classifies %j as %s', (title, type) => {
    expect(classifyChange(title)).toBe(type);
  });

  it('conforms to the schema, is deterministic, and sizes risk from the diff', () => {
    const small = analysePullRequest(prUserText({ additions: 5, deletions: 1 }), 3, 'pr-1');
    const large = analysePullRequest(prUserText({ additions: 800, deletions: 10, files: 40 }), 3, 'pr-1');
    expect(validPrAnalysis(small)).toBe(true);
    expect(small).toEqual(analysePullRequest(prUserText({ additions: 5, deletions: 1 }), 3, 'pr-1'));
    expect(small.risk_level).toBe('low');
    expect(large.risk_level).toBe('high');
    expect(small.summary).toContain('acme/api');
  });

  it('fills an unknown schema with a conforming value, $ref, enum, bounds and nesting included', () => {
    const schema = {
      type: 'object',
      additionalProperties: false,
      required: ['title', 'score', 'tags', 'kind', 'owner', 'when'],
      properties: {
        title: { type: 'string', minLength: 3 },
        score: { type: 'integer', minimum: 1, maximum: 5 },
        tags: { type: 'array', minItems: 2, items: { type: 'string' } },
        kind: { enum: ['a', 'b'] },
        owner: { $ref: '#/$defs/person' },
        when: { type: 'string', format: 'date-time' },
      },
      $defs: { person: { type: 'object', additionalProperties: false, required: ['name', 'bot'], properties: { name: { type: 'string' }, bot: { type: 'boolean' } } } },
    };
    const value = valueForSchema(schema, prUserText(), 5, 'x');
    expect(ajv.validate(schema, value)).toBe(true);
    expect(Number.isNaN(Date.parse((value as { when: string }).when))).toBe(false);
    expect(isPrAnalysisSchema(schema)).toBe(false);
    expect(isPrAnalysisSchema(prAnalysisJsonSchema)).toBe(true);
  });
});

describe('answerChatRequest', () => {
  it('answers a chat.completion whose usage follows the prompt length', () => {
    const line = requestLine('a-1', { model: FALLBACK });
    const result = answer('a-1', line, STRONG_MODEL_PROFILE);
    expect(result.statusCode).toBe(200);
    const body = result.body as ChatCompletion;
    expect(body.choices[0]!.finish_reason).toBe('stop');
    const messages = (line.body as { messages: Array<{ content: string }> }).messages;
    const chars = messages.reduce((sum, m) => sum + m.content.length, 0);
    expect(body.usage.prompt_tokens).toBe(Math.ceil(chars / 4) + 3 * messages.length);
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + body.usage.completion_tokens);
    expect(validPrAnalysis(JSON.parse(body.choices[0]!.message.content!))).toBe(true);
  });

  it('decides the same way for the same seed, request and model, whatever the max_tokens', () => {
    const profile = { ...CHEAP_MODEL_PROFILE, failureRate: 0.5, serverErrorRate: 0 };
    const outcomes = (seed: number, maxTokens: number) =>
      Array.from({ length: 40 }, (_, i) => {
        const line = requestLine(`d-${i}`, { maxTokens });
        return answer(`d-${i}`, line, profile, { seed, digest: lineDigest(JSON.stringify(line)) }).outcome === 'json_validate_failed';
      });
    expect(outcomes(1, 1_024)).toEqual(outcomes(1, 1_024));
    expect(outcomes(1, 1_024)).toEqual(outcomes(1, 4_096));
    expect(outcomes(1, 1_024)).not.toEqual(outcomes(2, 1_024));
  });

  it('fails an output-too-long line below the length it needs and not above', () => {
    const profile = { ...CHEAP_MODEL_PROFILE, failureRate: 1, jsonValidateShare: 0, serverErrorRate: 0 };
    const cut = answer('l-1', requestLine('l-1', { maxTokens: 1_000 }), profile);
    expect(cut).toMatchObject({ statusCode: 400, outcome: 'max_tokens_exceeded' });
    expect((cut.body as ApiErrorBody).error).toMatchObject({ code: 'max_tokens_exceeded', param: 'max_tokens', failed_generation: expect.any(String) });
    expect(answer('l-1', requestLine('l-1', { maxTokens: 2_100 }), profile).statusCode).toBe(200);
    // Any line runs out of room when max_tokens is below its ordinary length.
    expect(answer('l-2', requestLine('l-2', { model: FALLBACK, maxTokens: 10 }), STRONG_MODEL_PROFILE).outcome).toBe('max_tokens_exceeded');
  });

  it('rejects max_tokens above the model limit', () => {
    const result = answer('m-1', requestLine('m-1', { model: FALLBACK, maxTokens: 100_000 }), STRONG_MODEL_PROFILE);
    expect(result).toMatchObject({ statusCode: 400, body: { error: { param: 'max_tokens', type: 'invalid_request_error' } } });
  });

  it('returns valid JSON that breaks the schema at the schema-violation rate, never in strict mode', () => {
    const profile = { ...STRONG_MODEL_PROFILE, schemaViolationRate: 1 };
    const loose = answer('v-1', requestLine('v-1', { model: FALLBACK }), profile);
    expect(loose.outcome).toBe('schema_violation');
    expect(validPrAnalysis(JSON.parse((loose.body as ChatCompletion).choices[0]!.message.content!))).toBe(false);
    const strict = answer('v-2', requestLine('v-2', { model: CHEAP }), { ...CHEAP_MODEL_PROFILE, failureRate: 0, serverErrorRate: 0, schemaViolationRate: 1 });
    expect(strict.outcome).toBe('ok');
  });

  it('names a tool twice and leaves a summary empty at their rates, in strict mode too: valid for the schema sent', () => {
    const profile = { ...CHEAP_MODEL_PROFILE, failureRate: 0, serverErrorRate: 0, repeatedItemRate: 1, emptySummaryRate: 1 };
    const ai = answer('d-1', requestLine('d-1', { pr: { body: 'Generated with Claude Code' } }), profile);
    expect(ai).toMatchObject({ statusCode: 200, outcome: 'ok', deviations: ['repeated_item', 'empty_summary'] });
    const content = JSON.parse((ai.body as ChatCompletion).choices[0]!.message.content!);
    expect(content).toMatchObject({ ai_tools: ['Claude', 'Claude'], summary: '' });
    expect(validPrAnalysis(content)).toBe(true);
    // No list to repeat an item of: only the summary deviates.
    expect(answer('d-2', requestLine('d-2'), profile)).toMatchObject({ deviations: ['empty_summary'] });
    const rates = { ...profile, repeatedItemRate: 0.3, emptySummaryRate: 0 };
    const repeated = Array.from({ length: 400 }, (_, i) => answer(`r-${i}`, requestLine(`r-${i}`, { pr: { body: 'Generated with Claude Code' } }), rates)).filter(
      (a) => 'deviations' in a && a.deviations?.includes('repeated_item'),
    ).length;
    expect(repeated).toBeGreaterThan(80);
    expect(repeated).toBeLessThan(160);
    expect(answer('d-3', requestLine('d-3', { pr: { body: 'Generated with Claude Code' } }), { ...profile, repeatedItemRate: 0, emptySummaryRate: 0 })).not.toHaveProperty('deviations');
  });

  it('keeps max_tokens out of the line digest, and nothing else', () => {
    const line = requestLine('g-1', { maxTokens: 1_024 });
    expect(lineDigest(JSON.stringify(line))).toBe(lineDigest(JSON.stringify(requestLine('g-1', { maxTokens: 8_192 }))));
    expect(lineDigest(JSON.stringify(line))).not.toBe(lineDigest(JSON.stringify(requestLine('g-1', { maxTokens: 1_024, pr: { title: 'feat: other' } }))));
    expect(lineDigest(JSON.stringify(line))).not.toBe(lineDigest(JSON.stringify(requestLine('g-2', { maxTokens: 1_024 }))));
  });
});

describe('control input checks', () => {
  it('accepts known fault and profile fields and names the bad ones', () => {
    expect(parseFaults({ shuffle: true, expireAfterFraction: null, rateLimitRoute: 'POST /openai/v1/batches' })).toEqual({
      shuffle: true,
      expireAfterFraction: null,
      rateLimitRoute: 'POST /openai/v1/batches',
    });
    expect(() => parseFaults({ missingRate: -1 })).toThrow(/missingRate/);
    expect(() => parseFaults({ shuffle: 'yes' })).toThrow(/shuffle/);
    expect(() => parseFaults([1])).toThrow(/object/);
    expect(parseProfile({ failureRate: 0.1 })).toEqual({ failureRate: 0.1 });
    expect(() => parseProfile({ failRate: 0.1 })).toThrow(/failRate/);
  });
});

describe('answerChatRequest as OpenAI', () => {
  const openai = { api: 'openai' as const, outputTooLongAs: 'error' as const };
  const strictLine = (customId: string, maxTokens = 1_024) =>
    requestLine(customId, { model: 'gpt-4.1-mini', maxTokens, responseFormat: { type: 'json_schema', json_schema: { name: 'pr_analysis', strict: true, schema: prAnalysisJsonSchema } } });

  it('never fails with json_validate_failed: its failing lines run long, answered as finish_reason length whatever outputTooLongAs says', () => {
    const profile = { ...OPENAI_CHEAP_MODEL_PROFILE, failureRate: 1, jsonValidateShare: 1, serverErrorRate: 0, refusalRate: 0 };
    const cut = answer('o-1', strictLine('o-1'), profile, openai);
    expect(cut).toMatchObject({ statusCode: 200, outcome: 'finish_reason_length', billed: { completionTokens: 1_024 } });
    const body = cut.body as ChatCompletion;
    expect(body.choices[0]!.message).toMatchObject({ refusal: null, annotations: [] });
    expect(body).not.toHaveProperty('x_groq');
    expect(answer('o-2', strictLine('o-2', 4_096), profile, openai).outcome).toBe('ok');
  });

  it('refuses at its rate with content null, billed for the refusal it wrote', () => {
    const refused = answer('o-3', strictLine('o-3'), { ...OPENAI_CHEAP_MODEL_PROFILE, refusalRate: 1, serverErrorRate: 0 }, openai);
    expect(refused).toMatchObject({ statusCode: 200, outcome: 'refusal', billed: { completionTokens: expect.any(Number) } });
    expect((refused.body as ChatCompletion).choices[0]).toMatchObject({ message: { content: null, refusal: expect.stringMatching(/can't help/) }, finish_reason: 'stop' });
  });

  it('words a 5xx and an over-long input as OpenAI does', () => {
    const failing = answer('o-4', strictLine('o-4'), { ...OPENAI_CHEAP_MODEL_PROFILE, serverErrorRate: 1 }, openai);
    expect(failing).toMatchObject({ statusCode: 500, outcome: 'server_error', body: { error: { type: 'server_error', code: null } } });
    const long = answer('o-5', strictLine('o-5'), { ...OPENAI_CHEAP_MODEL_PROFILE, contextTokens: 10 }, openai);
    expect(long).toMatchObject({ statusCode: 400, outcome: 'context_length_exceeded', body: { error: { message: expect.stringMatching(/maximum context length is 10 tokens/) } } });
  });

  it('checks strict schemas by OpenAI\'s rules: nullable allowed, an object at the root', () => {
    const nullable = { type: 'object', additionalProperties: false, required: ['a'], properties: { a: { type: ['string', 'null'] } } };
    expect(strictSchemaProblems(nullable, '#', OPENAI_STRICT_RULES)).toEqual([]);
    expect(strictSchemaProblems(nullable)).toEqual(['#/properties/a allows null']);
    expect(strictSchemaProblems({ anyOf: [nullable] }, '#', OPENAI_STRICT_RULES)).toContain('# must be an object schema, not anyOf');
  });
});
