import { VALID_ANALYSIS } from '../testing/groq-lines.js';
import { prAnalysisJsonSchema, RESULT_TEXT_MAX_CHARS } from './pr-analysis.schema.js';
import { promptRegistry, UnknownPromptVersionError } from './prompt-registry.js';
import { strictModeProblems } from './strict-schema.js';
import { validatePrAnalysis } from './validate.js';

const content = (patch: Record<string, unknown>) => JSON.stringify({ ...VALID_ANALYSIS, ...patch });

describe('validatePrAnalysis: what is validated is exactly what was sent', () => {
  it('returns the typed analysis for valid content, with no flags', () => {
    expect(validatePrAnalysis(JSON.stringify(VALID_ANALYSIS))).toEqual({ ok: true, value: VALID_ANALYSIS, normalised: [] });
  });

  it('compiles the version\'s own schema file: the sent schema, with no rule added', () => {
    const registry = promptRegistry();
    for (const id of registry.ids()) {
      const { schema, validate } = registry.get(id);
      expect(validate.schema).toBe(schema);
    }
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
    ['a change type outside its enum', { change_type: 'bug fix' }, '/change_type: must be one of feature, bugfix, refactor, docs, test, chore, dependency, performance, security, other'],
    ['an unknown tool', { ai_tools: ['Gemini'] }, '/ai_tools/0: must be one of CodeRabbit, Devin, Cubic, Claude, Cursor, Copilot, Other'],
    ['an extra property', { mood: 'happy' }, '/: unexpected property mood'],
    ['a null', { ai_evidence: null }, '/ai_evidence: must be string'],
    ['a confidence given as a word', { confidence: 'high' }, '/confidence: must be number'],
  ])('refuses %s as schema_invalid, at both versions', (_name, patch, expected) => {
    for (const version of ['pr-analysis-v1', 'pr-analysis-v2']) {
      const result = validatePrAnalysis(content(patch), version);
      expect(result).toMatchObject({ ok: false, code: 'schema_invalid' });
      if (!result.ok) expect(result.errors).toContain(expected);
    }
  });

  it.each([
    ['a tool listed twice', { ai_tools: ['Claude', 'Claude'] }, { ai_tools: ['Claude'] }, ['ai_tools: removed 1 repeated item']],
    ['three copies of two tools', { ai_tools: ['Claude', 'Cursor', 'Claude', 'Cursor', 'Claude'] }, { ai_tools: ['Claude', 'Cursor'] }, ['ai_tools: removed 3 repeated items']],
    ['an empty summary', { summary: '' }, { summary: '' }, ['summary: empty']],
    ['a confidence above 1', { confidence: 1.2 }, { confidence: 1 }, ['confidence: 1.2 clamped to 1']],
    ['a confidence below 0', { confidence: -0.1 }, { confidence: 0 }, ['confidence: -0.1 clamped to 0']],
    ['a summary past the stored bound', { summary: 's'.repeat(RESULT_TEXT_MAX_CHARS + 5) }, { summary: 's'.repeat(RESULT_TEXT_MAX_CHARS) }, [`summary: cut from ${RESULT_TEXT_MAX_CHARS + 5} to ${RESULT_TEXT_MAX_CHARS} characters`]],
  ])('accepts and flags %s (a rule the sent schema does not state)', (_name, patch, fixed, flags) => {
    expect(validatePrAnalysis(content(patch))).toEqual({ ok: true, value: { ...VALID_ANALYSIS, ...patch, ...fixed }, normalised: flags });
  });

  it('accepts and flags a code fence and stray whitespace around the JSON', () => {
    const json = JSON.stringify({ ...VALID_ANALYSIS, ai_tools: ['Claude', 'Claude'] });
    expect(validatePrAnalysis(`\n  \`\`\`json\n${json}\n\`\`\`\n`)).toEqual({
      ok: true,
      value: VALID_ANALYSIS,
      normalised: ['content: removed surrounding whitespace', 'content: removed a code fence', 'ai_tools: removed 1 repeated item'],
    });
    expect(validatePrAnalysis(`\`\`\`\n${json}\`\`\``)).toMatchObject({ ok: true, normalised: ['content: removed a code fence', 'ai_tools: removed 1 repeated item'] });
  });

  it('reports every problem at once, and content that is not JSON even without its fence', () => {
    const result = validatePrAnalysis(content({ confidence: 'x', risk_level: 'extreme' }));
    expect(result.ok || result.errors.length).toBe(2);
    const notJson = validatePrAnalysis('```json\n{"summary": \n```');
    expect(notJson).toMatchObject({ ok: false, code: 'schema_invalid', raw: '```json\n{"summary": \n```', error: expect.stringMatching(/^content is not JSON/) });
    expect(validatePrAnalysis('Here is the analysis: {}')).toMatchObject({ ok: false, code: 'schema_invalid' });
  });

  it('refuses an unknown prompt version before validating anything', () => {
    expect(() => validatePrAnalysis(JSON.stringify(VALID_ANALYSIS), 'pr-analysis-v0')).toThrow(UnknownPromptVersionError);
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
