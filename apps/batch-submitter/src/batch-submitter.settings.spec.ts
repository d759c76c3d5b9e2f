import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promptRegistryFrom } from '#batching';
import { ConfigError } from '#platform';
import { findPromptsDir } from '#groq-batch';
import { batchSubmitterEnv, submitterSettingsFrom } from './batch-submitter.settings.js';

describe('PROMPT_VERSION at boot', () => {
  const env = { GROQ_API_KEY: 'gsk_test' };

  it('defaults to pr-analysis-v1 and accepts any version that has a folder', () => {
    expect(submitterSettingsFrom(batchSubmitterEnv.parse(env)).promptVersion).toBe('pr-analysis-v1');
    expect(submitterSettingsFrom(batchSubmitterEnv.parse({ ...env, PROMPT_VERSION: 'pr-analysis-v2' })).promptVersion).toBe('pr-analysis-v2');
  });

  it('refuses an unknown version, naming it and the known ones', () => {
    expect(() => submitterSettingsFrom(batchSubmitterEnv.parse({ ...env, PROMPT_VERSION: 'pr-analysis-v9' }))).toThrow(
      new ConfigError('PROMPT_VERSION', 'unknown prompt version "pr-analysis-v9" (known: pr-analysis-v1, pr-analysis-v2)'),
    );
  });
});

describe('PROMPTS_DIR at boot', () => {
  it('loads and checks the folder when set, naming the file at fault', () => {
    expect(batchSubmitterEnv.safeParse({ GROQ_API_KEY: 'gsk_test', PROMPTS_DIR: findPromptsDir() }).success).toBe(true);
    const parsed = batchSubmitterEnv.safeParse({ GROQ_API_KEY: 'gsk_test', PROMPTS_DIR: '/nonexistent/prompts' });
    expect(parsed.error?.issues).toEqual([expect.objectContaining({ path: ['PROMPTS_DIR'], message: expect.stringContaining('/nonexistent/prompts') })]);
  });

  it('is the folder every reader uses, PROMPT_VERSION checked against it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cascade-prompts-dir-'));
    try {
      cpSync(join(findPromptsDir(), 'pr-analysis-v2'), join(dir, 'team-x-v1'), { recursive: true });
      const manifest = join(dir, 'team-x-v1', 'manifest.json');
      writeFileSync(manifest, readFileSync(manifest, 'utf8').replace('"pr-analysis-v2"', '"team-x-v1"'));
      const configured = batchSubmitterEnv.parse({ GROQ_API_KEY: 'gsk_test', PROMPTS_DIR: dir, PROMPT_VERSION: 'team-x-v1' });
      expect(submitterSettingsFrom(configured).prompts.ids()).toEqual(['team-x-v1']);
      expect(promptRegistryFrom(configured).dir).toBe(dir);
      expect(() => promptRegistryFrom({ ...configured, PROMPT_VERSION: 'pr-analysis-v1' })).toThrow(/PROMPT_VERSION unknown prompt version "pr-analysis-v1" \(known: team-x-v1\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
