import { once } from 'node:events';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Groq from 'groq-sdk';
import { buildPrAnalysisRequest, DEFAULT_GROQ_BATCH_CONFIG, GroqBatchClient, type PrForAnalysis, writeBatchInputFiles } from '../../libs/groq-batch/src/index.js';
import { peakRssMb, report, runChild, startDiscardingUploadServer, startSimulatorProcess } from './common.js';

/**
 * Build a 50,000-line batch input (~100 MB, split by the default limits) as a stream and upload it
 * with the client's streamed multipart body, to the Groq simulator when it is built (else to a stub
 * that discards the body): prints the peak RSS (target < 256 MB). For comparison,
 * a child process uploads the first file with groq-sdk's own `files.create`, which buffers it.
 */
const LINES = Number(process.env.BENCH_LINES ?? 50_000);
const script = fileURLToPath(import.meta.url);

function prose(seed: number, chars: number): string {
  const words = ['adds', 'retry', 'to', 'the', 'webhook', 'sender', 'and', 'covers', 'every', 'edge', 'case', 'with', 'tests', 'so', 'that', 'late', 'events', 'are', 'visible', 'in', 'metrics'];
  let out = '';
  let x = seed * 2_654_435_761;
  while (out.length < chars) {
    x = (x * 1_103_515_245 + 12_345) >>> 0;
    out += `${words[x % words.length]}${x % 13 === 0 ? '.\n' : ' '}`;
  }
  return out.slice(0, chars);
}

function* prs(): Generator<{ customId: string; pr: PrForAnalysis }> {
  for (let i = 0; i < LINES; i++) {
    yield {
      customId: `acme/api#${100_000 + i}`,
      pr: {
        repo: 'acme/api',
        title: `fix: retry webhook delivery (${i})`,
        body: prose(i, 300 + (i % 7) * 250),
        author: i % 5 === 0 ? 'devin-ai-integration[bot]' : 'octocat',
        labels: ['bug', 'backend'],
        additions: 120 + (i % 300),
        deletions: 30 + (i % 50),
        changedFiles: 1 + (i % 12),
        reviews: i % 2 === 0 ? [{ author: 'coderabbitai[bot]', body: prose(i + 7, 200), state: 'COMMENTED' }] : [],
      },
    };
  }
}

function* lines() {
  for (const { customId, pr } of prs()) yield { customId, body: buildPrAnalysisRequest(pr, { model: 'openai/gpt-oss-20b', maxTokens: 1_024 }) };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-upload-'));
  // BENCH_PROVIDER=stub measures against the discarding stub even when the simulator is built.
  const provider = (process.env.BENCH_PROVIDER === 'stub' ? null : await startSimulatorProcess()) ?? (await startDiscardingUploadServer());
  try {
    const started = performance.now();
    const files = await writeBatchInputFiles(lines(), dir, { maxLines: DEFAULT_GROQ_BATCH_CONFIG.maxLinesPerFile, maxBytes: DEFAULT_GROQ_BATCH_CONFIG.maxBytesPerFile }, 'bench');
    const built = performance.now();
    const peakAfterBuild = peakRssMb();
    const client = new GroqBatchClient({ ...DEFAULT_GROQ_BATCH_CONFIG, apiKey: 'bench-key', baseURL: provider.url });
    const ids: string[] = [];
    for (const file of files) ids.push((await client.uploadInputFile(file.path)).id);
    const uploaded = performance.now();
    const peak = peakRssMb();

    // The SDK's own upload of the same first file, in a child process, against a discarding stub.
    const stub = await startDiscardingUploadServer();
    const child = runChild(script, ['--sdk-upload', files[0]!.path, stub.url], 'pipe');
    let sdkOutput = '';
    child.stdout!.on('data', (chunk: Buffer) => (sdkOutput += chunk.toString()));
    await once(child, 'exit');
    await stub.stop();

    report('build + upload of a batch input', {
      provider: provider.kind,
      lines: LINES,
      files: files.map((f) => `${f.lines} lines / ${(f.bytes / 1e6).toFixed(1)} MB`).join(', '),
      'uploaded file ids': ids.join(', '),
      'build seconds': ((built - started) / 1000).toFixed(2),
      'upload seconds': ((uploaded - built) / 1000).toFixed(2),
      'peak RSS after build': `${peakAfterBuild.toFixed(0)} MB`,
      'peak RSS (process, build + streamed upload)': `${peak.toFixed(0)} MB (target < 256 MB)`,
      [`groq-sdk files.create of the first file (${(files[0]!.bytes / 1e6).toFixed(1)} MB), for comparison`]: sdkOutput.trim() || 'failed',
    });
  } finally {
    await provider.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--sdk-upload') {
  const groq = new Groq({ apiKey: 'bench-key', baseURL: process.argv[4]!, maxRetries: 0, timeout: 600_000 });
  await groq.files.create({ file: createReadStream(process.argv[3]!), purpose: 'batch' });
  process.stdout.write(`peak RSS ${peakRssMb().toFixed(0)} MB`);
} else {
  await main();
}
