import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { resolve } from 'node:path';
import { brokers, eventually, freePort, GiveUp } from '../support/infra.js';

export const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = resolve(ROOT, 'dist/apps/poller/src/main.js');

export interface PollerProcess {
  base: string;
  port: number;
  output: () => string;
  stop: () => Promise<void>;
}

/** The built poller as a process (as `test/foundation/ops-api.int-spec.ts` runs it), ready when `/health/live` answers. */
export async function startPoller(env: Record<string, string>): Promise<PollerProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: { ...process.env, KAFKA_BROKERS: brokers().join(','), HTTP_PORT: String(port), GROQ_API_KEY: 'fake-security-test-key', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const base = `http://127.0.0.1:${port}`;
  await eventually('poller ready', async () => {
    if (child.exitCode !== null) throw new GiveUp(`exited: ${output.slice(-2_000)}`);
    return (await fetch(`${base}/health/ready`)).ok;
  }, 90_000);
  return { base, port, output: () => output, stop: () => stopChild(child) };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGTERM');
  await exited;
}

/** Runs the poller to its exit (a refused configuration) and returns its exit code and output. */
export function runPollerToExit(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [MAIN], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((done) => child.once('exit', (code) => done({ code, output })));
}

/** A GET with a chosen `Host` header (fetch does not let a caller set it, as a browser would not). */
export function getWithHost(port: number, path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', headers: { host } }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => done({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', fail);
    req.end();
  });
}
