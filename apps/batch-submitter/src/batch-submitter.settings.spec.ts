import { findPromptsDir } from '#groq-batch';
import { batchSubmitterEnv } from './batch-submitter.settings.js';

describe('PROMPT_VERSION at boot', () => {
  const env = { GROQ_API_KEY: 'gsk_test' };

  it('defaults to pr-analysis-v1 and accepts any version that has a folder', () => {
    expect(batchSubmitterEnv.parse(env).PROMPT_VERSION).toBe('pr-analysis-v1');
    expect(batchSubmitterEnv.parse({ ...env, PROMPT_VERSION: 'pr-analysis-v2' }).PROMPT_VERSION).toBe('pr-analysis-v2');
  });

  it('refuses an unknown version, naming it and the known ones', () => {
    const parsed = batchSubmitterEnv.safeParse({ ...env, PROMPT_VERSION: 'pr-analysis-v9' });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues).toEqual([
      expect.objectContaining({ path: ['PROMPT_VERSION'], message: 'unknown prompt version "pr-analysis-v9" (known: pr-analysis-v1, pr-analysis-v2)' }),
    ]);
  });
});

describe('PROMPTS_DIR at boot', () => {
  it('loads and checks the folder when set, naming the file at fault', () => {
    expect(batchSubmitterEnv.safeParse({ GROQ_API_KEY: 'gsk_test', PROMPTS_DIR: findPromptsDir() }).success).toBe(true);
    const parsed = batchSubmitterEnv.safeParse({ GROQ_API_KEY: 'gsk_test', PROMPTS_DIR: '/nonexistent/prompts' });
    expect(parsed.error?.issues).toEqual([expect.objectContaining({ path: ['PROMPTS_DIR'], message: expect.stringContaining('/nonexistent/prompts') })]);
  });
});
