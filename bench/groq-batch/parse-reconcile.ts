import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { DEFAULT_GROQ_BATCH_CONFIG, GroqBatchClient, reconcileBatch } from '../../libs/groq-batch/src/index.js';
import { peakRssMb, report, rssMb, runChild } from './common.js';

/**
 * Parse and reconcile a 50,000-line output file of ~100 MB (plus an error file), streamed over HTTP
 * from the provider's file-content route: prints lines/s and the peak RSS (target: under 256 MB).
 * The files are generated and served by child processes, so the figures are the client's alone.
 */
const OUTPUT_LINES = Number(process.env.BENCH_LINES ?? 50_000);
const ERROR_LINES = Math.round(OUTPUT_LINES * 0.04);
const MISSING = Math.round(OUTPUT_LINES * 0.001);
const SCHEMA_INVALID_EVERY = 200;
const script = fileURLToPath(import.meta.url);

const customId = (i: number) => `acme/api#${100_000 + i}`;

/** Varied English-like text, so that lines do not compress into one repeated string. */
function prose(seed: number, chars: number): string {
  const words = ['the', 'change', 'retries', 'webhook', 'delivery', 'with', 'exponential', 'backoff', 'and', 'records', 'each', 'attempt', 'in', 'a', 'new', 'table', 'so', 'operators', 'can', 'see', 'why', 'an', 'event', 'was', 'late', 'tests', 'cover', 'timeouts', 'jitter', 'limits'];
  let out = '';
  let x = seed * 2_654_435_761;
  while (out.length < chars) {
    x = (x * 1_103_515_245 + 12_345) >>> 0;
    out += `${words[x % words.length]}${x % 11 === 0 ? '. ' : ' '}`;
  }
  return out.slice(0, chars);
}

/** A success line shaped like a real gpt-oss batch answer: reasoning, timings, x_groq. */
function successLine(i: number): string {
  const assisted = i % 3 === 0;
  const analysis = {
    summary: `${prose(i, 260)}.`,
    change_type: 'bugfix',
    risk_level: i % 7 === 0 ? 'medium' : 'low',
    ai_assisted: assisted,
    ai_tools: assisted ? ['CodeRabbit'] : [],
    ai_evidence: assisted ? 'coderabbitai[bot] reviewed the pull request and left 3 comments' : '',
    confidence: i % SCHEMA_INVALID_EVERY === 0 ? 1.5 : 0.82,
  };
  return JSON.stringify({
    id: `batch_req_out_01kd9x${i.toString(36).padStart(20, '0')}`,
    custom_id: customId(i),
    response: {
      status_code: 200,
      request_id: `req_01kd9x${i.toString(36).padStart(20, '0')}`,
      body: {
        id: `chatcmpl-${i.toString(16).padStart(8, '0')}-5c3e-4b8e-9d1a-0f3c2b1a9e8d`,
        object: 'chat.completion',
        created: 1_766_000_000 + i,
        model: 'openai/gpt-oss-20b',
        choices: [{ index: 0, message: { role: 'assistant', content: JSON.stringify(analysis), reasoning: prose(i + 1, 850) }, logprobs: null, finish_reason: 'stop' }],
        usage: { queue_time: 0.061, prompt_tokens: 812 + (i % 400), prompt_time: 0.012, completion_tokens: 143 + (i % 90), completion_time: 0.31, total_tokens: 955 + (i % 490), total_time: 0.322 },
        usage_breakdown: null,
        system_fingerprint: 'fp_e99e93f2ac',
        x_groq: { id: `req_01kd9x${i.toString(36).padStart(20, '0')}`, seed: 1_234_567 + i },
        service_tier: 'batch',
      },
    },
    error: null,
  });
}

function errorLine(i: number): string {
  return JSON.stringify({
    id: `batch_req_out_01kd9y${i.toString(36).padStart(20, '0')}`,
    custom_id: customId(OUTPUT_LINES + i),
    response: {
      status_code: 400,
      body: { error: { message: 'Failed to validate JSON. Please adjust your prompt.', type: 'invalid_request_error', code: 'json_validate_failed', failed_generation: `{"summary": "${prose(i, 400)}` } },
    },
  });
}

async function writeLines(path: string, count: number, line: (i: number) => string): Promise<void> {
  const out = createWriteStream(path);
  for (let i = 0; i < count; i++) if (!out.write(`${line(i)}\n`)) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
}

/** Serves `<dir>/<file id>.jsonl` on GET /openai/v1/files/{id}/content, as the provider does. */
async function serve(dir: string): Promise<void> {
  const server = createServer((request, response) => {
    const id = /^\/openai\/v1\/files\/([\w-]+)\/content$/.exec(request.url ?? '')?.[1];
    const path = id ? join(dir, `${id}.jsonl`) : '';
    if (!id || !existsSync(path)) {
      response.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'not found', type: 'invalid_request_error' } }));
      return;
    }
    response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(statSync(path).size) });
    pipeline(createReadStream(path), response).catch(() => undefined);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  process.stdout.write(`serving http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-parse-'));
  const generator = runChild(script, ['--generate', dir]);
  const [code] = (await once(generator, 'exit')) as [number];
  if (code !== 0) throw new Error(`generating the files failed (exit ${code})`);
  const server = runChild(script, ['--serve', dir], 'pipe');
  try {
    const [chunk] = (await once(server.stdout!, 'data')) as [Buffer];
    const url = /serving (\S+)/.exec(chunk.toString())![1]!;
    const outputBytes = statSync(join(dir, 'file_output.jsonl')).size;
    const errorBytes = statSync(join(dir, 'file_error.jsonl')).size;
    const sent = Array.from({ length: OUTPUT_LINES + ERROR_LINES + MISSING }, (_, i) => customId(i));

    const client = new GroqBatchClient({ ...DEFAULT_GROQ_BATCH_CONFIG, apiKey: 'bench-key', baseURL: url });
    const baseline = rssMb();
    const started = performance.now();
    const batch = { id: 'batch_bench', status: 'completed', output_file_id: 'file_output', error_file_id: 'file_error' } as const;
    const collected = await client.readBatchOutcomes(batch);
    const reconciled = reconcileBatch(sent, batch, collected);
    const seconds = (performance.now() - started) / 1000;

    const schemaInvalid = Math.ceil(OUTPUT_LINES / SCHEMA_INVALID_EVERY);
    const expected = { succeeded: OUTPUT_LINES - schemaInvalid, failed: schemaInvalid + ERROR_LINES + MISSING, missing: MISSING };
    const actual = { succeeded: reconciled.succeeded.length, failed: reconciled.failed.length, missing: reconciled.missing.length };
    if (JSON.stringify(actual) !== JSON.stringify(expected)) throw new Error(`expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
    const lines = collected.lines;
    report('parse + reconcile of an output file and an error file, streamed over HTTP', {
      'output file': `${OUTPUT_LINES} lines, ${(outputBytes / 1e6).toFixed(1)} MB`,
      'error file': `${ERROR_LINES} lines, ${(errorBytes / 1e6).toFixed(1)} MB`,
      'sent ids': sent.length,
      outcome: `${actual.succeeded} succeeded, ${actual.failed} failed (${schemaInvalid} schema_invalid, ${ERROR_LINES} json_validate_failed, ${MISSING} missing)`,
      seconds: seconds.toFixed(2),
      'lines/s': Math.round(lines / seconds),
      'MB/s': ((outputBytes + errorBytes) / 1e6 / seconds).toFixed(1),
      'RSS before parsing': `${baseline.toFixed(0)} MB`,
      'heap used after (outcomes held)': `${(process.memoryUsage().heapUsed / 1024 / 1024).toFixed(0)} MB`,
      'peak RSS (process)': `${peakRssMb().toFixed(0)} MB (target < 256 MB)`,
    });
  } finally {
    server.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--generate') {
  const dir = process.argv[3]!;
  await writeLines(join(dir, 'file_output.jsonl'), OUTPUT_LINES, successLine);
  await writeLines(join(dir, 'file_error.jsonl'), ERROR_LINES, errorLine);
} else if (process.argv[2] === '--serve') {
  await serve(process.argv[3]!);
} else {
  await main();
}
