import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { brokers } from '../support/infra.js';

const root = resolve(import.meta.dirname, '../..');

/** The README's first command, on a small set: the whole pipeline from the build, as a user runs it. */
describe('npm run demo', () => {
  it('runs the pipeline on 200 synthetic PRs and its report says lost: 0', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, KAFKA_BROKERS: brokers().join(','), LOG_LEVEL: 'warn' };
    delete env.GROQ_API_KEY;
    const child = spawn(process.execPath, [resolve(root, 'bin/cascade.js'), 'demo', '--prs', '200', '--timeout-ms', '240000'], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise((done) => child.on('exit', done));
    if (code !== 0) process.stderr.write(`${stderr.slice(-4_000)}\n${stdout.slice(-4_000)}\n`);
    expect(code).toBe(0);
    expect(stderr).toMatch(/using the local Groq simulator/);
    expect(stderr).toMatch(/merged\s+\|█+\| 200\/200/);
    expect(stdout).toMatch(/Coverage per team/);
    expect(stdout).toMatch(/Pass-1 failures by code/);
    expect(stdout).toMatch(/Reconcile: ingested 200 = succeeded \d+ \+ failed \d+ \+ excluded \d+ \+ dead-lettered 0 \+ in flight 0; lost: 0; stranded: 0; stuck: 0/);
    expect(stdout).toMatch(/Total billed \$\d+\.\d+ = answered \$\d+\.\d+ \+ failed attempts \$\d+\.\d+ \+ estimated \$\d+\.\d+/);
    expect(stdout).toMatch(/Total billed \$\d+\.\d+ vs always llama-3\.3-70b-versatile \$\d+\.\d+/);
    expect(stdout).toMatch(/always-strong basis: billed/);
  }, 300_000);
});
