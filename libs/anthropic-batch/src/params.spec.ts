import { buildPrAnalysisRequest, prAnalysisJsonSchema } from '#groq-batch';
import { toAnthropicParams, toAnthropicSchema } from './params.js';

const pr = { repo: 'acme/api', title: 'fix: retry', body: 'Fixes it.', author: 'octocat', additions: 3, deletions: 1, changedFiles: 1 };

describe('toAnthropicParams', () => {
  it('turns Cascade’s chat body into Messages params with structured outputs', () => {
    const body = buildPrAnalysisRequest(pr, { model: 'claude-haiku-4-5', maxTokens: 1_024 });
    const params = toAnthropicParams(body);
    expect(params).toEqual({
      model: 'claude-haiku-4-5',
      system: body.messages[0]!.content,
      messages: [{ role: 'user', content: body.messages[1]!.content }],
      max_tokens: 1_024,
      temperature: 0,
      output_config: { format: { type: 'json_schema', schema: prAnalysisJsonSchema } },
    });
  });

  it('joins system turns, takes max_completion_tokens, and sends no format for json_object', () => {
    const params = toAnthropicParams({
      model: 'm',
      messages: [
        { role: 'system', content: 'one' },
        { role: 'system', content: 'two' },
        { role: 'user', content: 'hi' },
      ],
      max_completion_tokens: 10,
      response_format: { type: 'json_object' },
    });
    expect(params).toEqual({ model: 'm', system: 'one\n\ntwo', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 });
  });

  it('refuses what Anthropic cannot take: no max_tokens, no user turn, an unknown role', () => {
    expect(() => toAnthropicParams({ model: 'm', messages: [{ role: 'user', content: 'x' }] })).toThrow(/max_tokens/);
    expect(() => toAnthropicParams({ model: 'm', messages: [{ role: 'system', content: 'x' }], max_tokens: 5 })).toThrow(/user message/);
    expect(() => toAnthropicParams({ model: 'm', messages: [{ role: 'tool', content: 'x' }], max_tokens: 5 })).toThrow(/role tool/);
  });
});

describe('toAnthropicSchema', () => {
  it('drops the keywords structured outputs refuse, everywhere, and closes every object', () => {
    const schema = {
      type: 'object',
      required: ['score', 'tags', 'when', 'nested'],
      properties: {
        score: { type: 'number', minimum: 0, maximum: 1, multipleOf: 0.01, description: 'keep me' },
        name: { type: 'string', minLength: 1, maxLength: 10, pattern: '^a', format: 'email' },
        tags: { type: 'array', items: { type: 'string', format: 'color' }, minItems: 2, maxItems: 5, uniqueItems: true },
        some: { type: 'array', items: { type: 'string' }, minItems: 1 },
        when: { type: 'string', format: 'date-time' },
        nested: { type: 'object', properties: { minimum: { type: 'integer', exclusiveMinimum: 0 } } },
        either: { anyOf: [{ type: 'object', properties: { a: { type: 'string' } } }, { type: 'null' }] },
      },
      $defs: { thing: { type: 'object', properties: {}, additionalProperties: true } },
    };
    expect(toAnthropicSchema(schema)).toEqual({
      type: 'object',
      additionalProperties: false,
      required: ['score', 'tags', 'when', 'nested'],
      properties: {
        score: { type: 'number', description: 'keep me' },
        name: { type: 'string', format: 'email' },
        tags: { type: 'array', items: { type: 'string' } },
        some: { type: 'array', items: { type: 'string' }, minItems: 1 },
        when: { type: 'string', format: 'date-time' },
        nested: { type: 'object', additionalProperties: false, properties: { minimum: { type: 'integer' } } },
        either: { anyOf: [{ type: 'object', additionalProperties: false, properties: { a: { type: 'string' } } }, { type: 'null' }] },
      },
      $defs: { thing: { type: 'object', properties: {}, additionalProperties: false } },
    });
  });

  it('leaves the PR-analysis schema as it is (it already fits)', () => {
    expect(toAnthropicSchema(prAnalysisJsonSchema)).toEqual(prAnalysisJsonSchema);
  });
});
