import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

/** The built CLI (dist/): an unknown prompt version is refused by the option parser, before any broker or database is touched. */
describe('cascade replay --prompt-version', () => {
  it('refuses a version that has no folder in prompts/, naming the known ones, without connecting anywhere', () => {
    // Unreachable broker and database: a refusal that came after connecting would time out instead.
    const run = spawnSync(process.execPath, [resolve(root, 'bin/cascade.js'), 'replay', '--prompt-version', 'pr-analysis-v9', '--dry-run'], {
      cwd: root,
      env: { ...process.env, KAFKA_BROKERS: '127.0.0.1:1', DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('unknown prompt version "pr-analysis-v9" (known: pr-analysis-v1, pr-analysis-v2)');
    expect(run.stdout).toBe('');
  });
});
