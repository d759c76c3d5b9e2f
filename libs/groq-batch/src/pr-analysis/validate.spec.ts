import { VALID_ANALYSIS } from '../testing/groq-lines.js';
import { prAnalysisJsonSchema } from './pr-analysis.schema.js';
import { strictModeProblems } from './strict-schema.js';
import { SUMMARY_MAX_CHARS, validatePrAnalysis } from './validate.js';

const content = (patch: Record<string, unknown>) => JSON.stringify({ ...VALID_ANALYSIS, ...patch });

describe('validatePrAnalysis', () => {
  it('returns the typed analysis for valid content', () => {
    expect(validatePrAnalysis(JSON.stringify(VALID_ANALYSIS))).toEqual({ ok: true, value: VALID_ANALYSIS });
  });

  it('fails a missing required property as schema_invalid with its path and the raw text', () => {
    const { ai_tools: _tools, ...rest } = VALID_ANALYSIS;
    const raw = JSON.stringify(rest);
    expect(validatePrAnalysis(raw)).toEqual({
      ok: false,
      code: 'schema_invalid',
      error: 'content breaks the schema: /: missing required property ai_tools',
      errors: ['/: missing required property ai_tools'],
      raw,
    });
  });

  it.each([
    ['confidence above 1', { confidence: 1.2 }, '/confidence: must be <= 1'],
    ['confidence below 0', { confidence: -0.1 }, '/confidence: must be >= 0'],
    ['a tool listed twice', { ai_tools: ['Claude', 'Claude'] }, '/ai_tools: must NOT have duplicate items (items ## 1 and 0 are identical)'],
    ['an unknown tool', { ai_tools: ['Gemini'] }, '/ai_tools/0: must be one of CodeRabbit, Devin, Cubic, Claude, Cursor, Copilot, Other'],
    ['an over-long summary', { summary: 's'.repeat(SUMMARY_MAX_CHARS + 1) }, `/summary: must NOT have more than ${SUMMARY_MAX_CHARS} characters`],
    ['an empty summary', { summary: '' }, '/summary: must NOT have fewer than 1 characters'],
    ['an extra property', { mood: 'happy' }, '/: unexpected property mood'],
    ['a null', { ai_evidence: null }, '/ai_evidence: must be string'],
  ])('refuses %s', (_name, patch, expected) => {
    const result = validatePrAnalysis(content(patch));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors).toContain(expected);
  });

  it('reports every problem at once, and content that is not JSON', () => {
    const result = validatePrAnalysis(content({ confidence: 7, risk_level: 'extreme' }));
    expect(result.ok || result.errors.length).toBe(2);
    const notJson = validatePrAnalysis('```json\n{}\n```');
    expect(notJson).toMatchObject({ ok: false, code: 'schema_invalid', raw: '```json\n{}\n```', error: expect.stringMatching(/^content is not JSON/) });
  });
});

describe('strict-mode compatibility of the output schema', () => {
  it('holds for the fixed PR-analysis schema: every property required, additionalProperties false, no null', () => {
    expect(strictModeProblems(prAnalysisJsonSchema)).toEqual([]);
  });

  it('catches what Groq strict mode would refuse', () => {
    expect(
      strictModeProblems({
        type: 'object',
        properties: {
          a: { type: ['string', 'null'] },
          b: { type: 'object', properties: { c: { type: 'string', enum: ['x', null] } }, required: ['c'] },
          d: { type: 'array' },
          e: { type: 'string', maxLength: 3 },
        },
        required: ['b', 'd', 'e'],
      }),
    ).toEqual([
      '#: additionalProperties must be false',
      '#/properties/a: not in required',
      '#/properties/a: null type',
      '#/properties/b: additionalProperties must be false',
      '#/properties/b/properties/c: null in enum',
      '#/properties/d: array without items',
      '#/properties/e: maxLength is not supported in strict mode',
    ]);
  });
});
