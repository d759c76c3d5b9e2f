import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';

/** The repository root, from the compiled file in dist/bench/groq-batch/. */
export const ROOT = resolve(import.meta.dirname, '../../..');

/** Peak resident set of this process so far, in MB (the kernel's high-water mark). */
export function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

export function rssMb(): number {
  return process.memoryUsage().rss / 1024 / 1024;
}

export function report(name: string, figures: Record<string, string | number>): void {
  process.stdout.write(`${name}\n${Object.entries(figures).map(([k, v]) => `  ${k}: ${v}`).join('\n')}\n`);
}

export interface ProviderEndpoint {
  url: string;
  kind: string;
  stop(): Promise<void>;
}

/**
 * The Groq simulator in a process of its own when it is built (dist/tools/groq-simulator), so the
 * figures measure only the client side; null when it is not there or does not start.
 */
export async function startSimulatorProcess(): Promise<ProviderEndpoint | null> {
  const main = resolve(ROOT, 'dist/tools/groq-simulator/src/main.js');
  if (!existsSync(main)) return null;
  const child: ChildProcess = spawn(process.execPath, [main, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string | null>((done) => {
    const timer = setTimeout(() => done(null), 10_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      const match = /listening on (http:\/\/\S+)/.exec(chunk.toString());
      if (match) {
        clearTimeout(timer);
        done(match[1]!);
      }
    });
    child.on('exit', () => done(null));
  });
  if (!url) {
    child.kill('SIGTERM');
    return null;
  }
  return {
    url,
    kind: 'Groq simulator (separate process)',
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/** A provider stand-in that accepts an upload and discards its body, answering like POST /files. */
export async function startDiscardingUploadServer(): Promise<ProviderEndpoint> {
  const server: Server = createServer((request, response) => {
    let bytes = 0;
    request.on('data', (chunk: Buffer) => (bytes += chunk.length));
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ id: `file_${Date.now()}`, object: 'file', bytes, filename: 'input.jsonl', purpose: 'batch', created_at: Math.floor(Date.now() / 1000) }));
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    kind: 'local stub discarding the body',
    stop: () => new Promise((done) => server.close(() => done())),
  };
}

/** Runs this same script in a child process with `args`, so that its memory does not count here. */
export function runChild(script: string, args: string[], stdio: 'inherit' | 'pipe' = 'inherit'): ChildProcess {
  return spawn(process.execPath, [script, ...args], { stdio: ['ignore', stdio, 'inherit'] });
}
