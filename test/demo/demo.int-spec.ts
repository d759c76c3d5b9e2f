import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { brokers } from '../support/infra.js';

const root = resolve(import.meta.dirname, '../..');

/** `cascade demo ARGS` from the build with no provider key set, as a user runs it: its exit code and output. */
async function demo(...args: string[]): Promise<{ code: unknown; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, KAFKA_BROKERS: brokers().join(','), LOG_LEVEL: 'warn' };
  for (const key of ['GROQ_API_KEY', 'OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'MODEL_CHAIN']) delete env[key];
  const child = spawn(process.execPath, [resolve(root, 'bin/cascade.js'), 'demo', ...args], {
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
  return { code, stdout, stderr };
}

/** The README's first command, on a small set: the whole pipeline from the build, as a user runs it. */
describe('npm run demo', () => {
  it('runs the pipeline on 200 synthetic PRs and its report says lost: 0', async () => {
    const { code, stdout, stderr } = await demo('--prs', '200', '--timeout-ms', '240000');
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

  it('--chain across Groq and Anthropic starts both simulators, and results come from both providers with lost: 0', async () => {
    const { code, stdout, stderr } = await demo('--prs', '200', '--timeout-ms', '240000', '--chain', 'groq:openai/gpt-oss-20b,anthropic:claude-haiku-4-5');
    expect(code).toBe(0);
    expect(stderr).toMatch(/GROQ_API_KEY is not set: using the local Groq simulator at http/);
    expect(stderr).toMatch(/ANTHROPIC_API_KEY is not set: using the local Anthropic simulator at http/);
    expect(stderr).not.toMatch(/OpenAI simulator/);
    expect(stderr).toMatch(/analysed on openai\/gpt-oss-20b → anthropic:claude-haiku-4-5/);
    // Pass 1 answered on Groq, the failures it re-batched answered on Anthropic (seed 42: a few of 200).
    expect(stdout).toMatch(/pass 1 {2}openai\/gpt-oss-20b +[1-9]\d* results/);
    expect(stdout).toMatch(/pass [2-9] {2}anthropic:claude-haiku-4-5 +[1-9]\d* results/);
    expect(stdout).toMatch(/Billed cost by provider\n {2}groq +\d+ batches {2}\$0\.\d*[1-9]\d* {2}\(openai\/gpt-oss-20b\)\n {2}anthropic +\d+ batches {2}\$0\.\d*[1-9]/);
    expect(stdout).toMatch(/vs always anthropic:claude-haiku-4-5 \$\d+\.\d+/);
    expect(stdout).toMatch(/Reconcile: ingested 200 = .*; lost: 0; stranded: 0; stuck: 0\s*$/);
  }, 300_000);
});
