import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prAnalysisJsonSchema } from './pr-analysis.schema.js';
import {
  findPromptsDir,
  PromptFileError,
  PromptRegistry,
  promptRegistry,
  UnknownPromptVersionError,
} from './prompt-registry.js';

describe('the prompt registry', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cascade-prompts-'));
    cpSync(findPromptsDir(), dir, { recursive: true });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const edit = (file: string, change: (text: string) => string) => writeFileSync(join(dir, file), change(readFileSync(join(dir, file), 'utf8')));
  const loadError = (): PromptFileError => {
    try {
      PromptRegistry.load(dir);
    } catch (error) {
      if (error instanceof PromptFileError) return error;
      throw error;
    }
    throw new Error('the registry loaded');
  };

  it('loads the shipped versions, v1 carrying the schema of the stored result', () => {
    const registry = promptRegistry();
    expect(registry.ids()).toEqual(['pr-analysis-v1', 'pr-analysis-v2']);
    const v1 = registry.get('pr-analysis-v1');
    expect(v1).toMatchObject({ id: 'pr-analysis-v1', schemaName: 'pr_analysis' });
    expect(v1.schema).toEqual(prAnalysisJsonSchema);
    expect(v1.system.endsWith('\n')).toBe(false);
    expect(registry.has('pr-analysis-v2')).toBe(true);
    expect(registry.has('pr-analysis-v3')).toBe(false);
  });

  it('loads a version a team adds as a folder', () => {
    cpSync(join(dir, 'pr-analysis-v2'), join(dir, 'team-x-v1'), { recursive: true });
    edit('team-x-v1/manifest.json', (text) => text.replace('"pr-analysis-v2"', '"team-x-v1"'));
    edit('team-x-v1/system.txt', () => 'Classify the PR for team X.\n');
    const registry = PromptRegistry.load(dir);
    expect(registry.ids()).toEqual(['pr-analysis-v1', 'pr-analysis-v2', 'team-x-v1']);
    expect(registry.get('team-x-v1').system).toBe('Classify the PR for team X.');
  });

  it('refuses an unknown version with a typed error naming it and the known ones', () => {
    let caught: unknown;
    try {
      PromptRegistry.load(dir).assertKnown('pr-analysis-v9');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UnknownPromptVersionError);
    expect(caught).toMatchObject({ version: 'pr-analysis-v9', known: ['pr-analysis-v1', 'pr-analysis-v2'] });
    expect((caught as Error).message).toBe('unknown prompt version "pr-analysis-v9" (known: pr-analysis-v1, pr-analysis-v2)');
  });

  it.each([
    ['a manifest that is not JSON', 'pr-analysis-v2/manifest.json', () => '{ "id": ', 'manifest.json', '(file)', /is not JSON/],
    ['an id that is not its folder', 'pr-analysis-v2/manifest.json', (t: string) => t.replace('"pr-analysis-v2"', '"pr-analysis-v3"'), 'manifest.json', 'id', /must equal its folder name pr-analysis-v2/],
    ['a schema name Groq refuses', 'pr-analysis-v2/manifest.json', (t: string) => t.replace('"pr_analysis"', '"pr analysis"'), 'manifest.json', 'schemaName', /must match/],
    ['an unknown manifest field', 'pr-analysis-v2/manifest.json', (t: string) => t.replace('{', '{ "model": "x",'), 'manifest.json', 'model', /is not a manifest field/],
    ['an empty system prompt', 'pr-analysis-v2/system.txt', () => '\n', 'system.txt', '(file)', /is empty/],
    ['an unknown placeholder', 'pr-analysis-v2/user.txt', (t: string) => t.replace('{{author}}', '{{owner}}'), 'user.txt', '{{owner}}', /is not a placeholder/],
    ['a template without the PR body', 'pr-analysis-v2/user.txt', (t: string) => t.replace('{{body}}', ''), 'user.txt', '{{body}}', /is required/],
    ['a schema that is not JSON', 'pr-analysis-v2/schema.json', () => '{', 'schema.json', '(file)', /is not JSON/],
    ['a keyword strict mode does not promise', 'pr-analysis-v2/schema.json', (t: string) => t.replace('"type": "number",', '"type": "number", "maximum": 1,'), 'schema.json', '#/properties/confidence', /maximum is not supported in strict mode/],
    ['a field a stored result lacks', 'pr-analysis-v2/schema.json', (t: string) => t.replace('"ai_assisted": {', '"ai_helped": {').replace('"ai_assisted",', '"ai_helped",'), 'schema.json', '#/properties/ai_assisted', /missing \(every stored result has it\)/],
    ['an enum value a stored result cannot hold', 'pr-analysis-v2/schema.json', (t: string) => t.replace('"other"', '"misc"'), 'schema.json', '#/properties/change_type', /enum value "misc"/],
  ])('names the file and field of %s', (_name, file, change, fileName, field, message) => {
    edit(file, change);
    const error = loadError();
    expect(error.file).toBe(join(dir, 'pr-analysis-v2', fileName));
    expect(error.field).toBe(field);
    expect(error.message).toMatch(message);
    expect(error.message).toContain(join(dir, 'pr-analysis-v2', fileName));
  });

  it('names a missing file and an empty folder', () => {
    rmSync(join(dir, 'pr-analysis-v2/schema.json'));
    expect(loadError()).toMatchObject({ file: join(dir, 'pr-analysis-v2/schema.json'), field: '(file)', message: expect.stringMatching(/is missing/) });
    const empty = mkdtempSync(join(tmpdir(), 'cascade-prompts-empty-'));
    try {
      expect(() => PromptRegistry.load(empty)).toThrow(/holds no prompt version/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('finds the prompts folder from the sources and from a build output folder below the root', () => {
    const root = findPromptsDir();
    expect(findPromptsDir(join(root, '..', 'dist', 'libs', 'groq-batch', 'src', 'pr-analysis'))).toBe(root);
    expect(() => findPromptsDir(tmpdir())).toThrow(/was not found/);
  });

  it('loads a configured folder (PROMPTS_DIR) once, the shipped one by default, and names a folder that is not one', () => {
    expect(promptRegistry(dir).dir).toBe(dir);
    expect(promptRegistry(dir)).toBe(promptRegistry(dir));
    expect(promptRegistry().dir).toBe(findPromptsDir());
    expect(() => promptRegistry(join(dir, 'nothing-here'))).toThrow(new PromptFileError(join(dir, 'nothing-here'), '(folder)', 'is not a folder of prompt versions'));
  });
});
