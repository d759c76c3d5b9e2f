import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../../..');

/** Peak resident set of this process so far, in MB (the kernel's high-water mark). */
export function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

export function rssMb(): number {
  return process.memoryUsage().rss / 1024 / 1024;
}

/** The simulator in a process of its own, so the figures measure only the client side. */
export async function startSimulatorProcess(port: number): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [resolve(ROOT, 'dist/tools/groq-simulator/src/main.js'), '--port', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((done, fail) => {
    child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('listening') && done());
    child.on('exit', (code) => fail(new Error(`simulator exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

export function report(name: string, figures: Record<string, string | number>): void {
  process.stdout.write(`${name}\n${Object.entries(figures).map(([k, v]) => `  ${k}: ${v}`).join('\n')}\n`);
}
