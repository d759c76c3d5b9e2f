import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { collectOutcomes, DEFAULT_GROQ_BATCH_CONFIG, GroqBatchClient, reconcileBatch } from '#groq-batch';
import { peakRssMb, report, rssMb, startSimulatorProcess } from './common.js';

/**
 * Parse and reconcile a 50,000-line output file of ~100 MB, streamed from the provider's file route:
 * prints lines/s and the peak RSS (target: under 256 MB).
 */
const LINES = Number(process.env.BENCH_LINES ?? 50_000);

/** Writes the output file; run in a child process so its garbage does not count in the parser's peak. */
async function generate(path: string): Promise<void> {
const out = createWriteStream(path);
const filler = 'The change retries the webhook delivery with exponential backoff and records each attempt. '.repeat(20);
for (let i = 0; i < LINES; i++) {
  const content = JSON.stringify({
    summary: filler.slice(0, 1_500),
    change_type: 'bugfix',
    risk_level: 'low',
    ai_assisted: i % 3 === 0,
    ai_tools: i % 3 === 0 ? ['CodeRabbit'] : [],
    ai_evidence: i % 3 === 0 ? 'coderabbitai[bot] review' : '',
    confidence: 0.8,
  });
  const line = JSON.stringify({
    id: `batch_req_out_${i}`,
    custom_id: `acme/api#${i}`,
    response: { status_code: 200, request_id: `req_${i}`, body: { id: `chatcmpl-${i}`, object: 'chat.completion', model: 'openai/gpt-oss-20b', choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }], usage: { prompt_tokens: 812, completion_tokens: 143, total_tokens: 955 } } },
    error: null,
  });
  if (!out.write(`${line}\n`)) await once(out, 'drain');
}
out.end();
await once(out, 'finish');
}

if (process.argv[2] === '--generate') {
  await generate(process.argv[3]!);
  process.exit(0);
}
const dir = mkdtempSync(join(tmpdir(), 'bench-parse-'));
const path = join(dir, 'output.jsonl');
execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--generate', path], { stdio: 'inherit' });
const bytes = statSync(path).size;

const sim = await startSimulatorProcess(18_000 + Math.floor(Math.random() * 1_000));
try {
  // Output files are never uploaded in production: the limit is raised only to hand this one to the simulator.
  const client = new GroqBatchClient({ ...DEFAULT_GROQ_BATCH_CONFIG, apiKey: 'bench-key', baseURL: sim.url, maxBytesPerFile: 512 * 1024 * 1024 });
  const fileId = await client.uploadFile(path);
  const baseline = rssMb();
  const started = performance.now();
  const collected = await collectOutcomes([{ source: 'output', lines: client.fileLines(fileId) }]);
  const reconciled = reconcileBatch(Array.from({ length: LINES }, (_, i) => `acme/api#${i}`), 'completed', collected.outcomes);
  const seconds = (performance.now() - started) / 1000;
  if (reconciled.succeeded.length !== LINES) throw new Error(`expected ${LINES} successes, got ${reconciled.succeeded.length}`);
  report('parse + reconcile of one output file, streamed over HTTP', {
    lines: LINES,
    'file size': `${(bytes / 1024 / 1024).toFixed(1)} MB`,
    seconds: seconds.toFixed(2),
    'lines/s': Math.round(LINES / seconds),
    'MB/s': (bytes / 1024 / 1024 / seconds).toFixed(1),
    'RSS before parsing': `${baseline.toFixed(0)} MB`,
    'peak RSS (process)': `${peakRssMb().toFixed(0)} MB (target < 256 MB)`,
  });
} finally {
  sim.child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
