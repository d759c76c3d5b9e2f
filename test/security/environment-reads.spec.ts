import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

/**
 * Every setting flows from the validated config: outside the files below, no source of libs/ or apps/
 * reads the environment, so a variable cannot be read unchecked, undocumented or under another default.
 */
const root = resolve(import.meta.dirname, '../..');

/** The files that may read `process.env`, each with why. */
const ALLOWED: Record<string, string> = {
  'libs/platform/src/config/service-config.ts': 'parseEnv and loadServiceConfig: the validation itself, reading the environment by default',
  'libs/platform/src/bootstrap/bootstrap-service.ts': "bootstrapService hands the process's environment to loadServiceConfig",
  'libs/platform/src/database/local-postgres.ts': "spawns the embedded PostgreSQL's binaries with PATH alone passed through (not a setting)",
  'libs/platform/src/faults/crash-point.ts': 'test-only fault injection (CASCADE_CRASH_AT), armed by the fault harness',
  'apps/cli/src/demo/local-stack.ts': "the demo's stack launcher: which broker and PostgreSQL to start or reuse",
  'apps/cli/src/demo/pipeline-stack.ts': "the demo's stack launcher: the environment it hands to the services it spawns (which validate it)",
};

/** `process.env`, `process?.env`, `process['env']`, `{ env } = process`, or `env` imported from node:process. */
const ENVIRONMENT_READ = /\bprocess\s*\??\.\s*env\b|\bprocess\s*\[\s*['"`]env['"`]\s*\]|\{[^}]*\benv\b[^}]*\}\s*=\s*process\b|from\s+['"](?:node:)?process['"]/;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return /\.ts$/.test(entry.name) && !/\.(int-)?spec\.ts$/.test(entry.name) ? [relative(root, path)] : [];
  });
}

describe('environment reads', () => {
  const readers = ['libs', 'apps']
    .flatMap((dir) => sources(join(root, dir)))
    .filter((file) => ENVIRONMENT_READ.test(readFileSync(join(root, file), 'utf8')))
    .sort();

  it('recognises every form of the read', () => {
    for (const read of ['process.env.X', 'process?.env', "process['env']", 'const { env } = process', "import { env } from 'node:process'"]) {
      expect(ENVIRONMENT_READ.test(read)).toBe(true);
    }
    expect(ENVIRONMENT_READ.test('config.env.DATABASE_URL')).toBe(false);
  });

  it('happen only in the allowed files, each with its reason', () => {
    expect(readers.filter((file) => !(file in ALLOWED))).toEqual([]);
  });

  it('keeps the allow-list to files that still read it', () => {
    expect(Object.keys(ALLOWED).filter((file) => !readers.includes(file))).toEqual([]);
  });
});
