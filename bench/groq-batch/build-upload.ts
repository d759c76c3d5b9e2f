import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPrAnalysisRequest, DEFAULT_GROQ_BATCH_CONFIG, DEFAULT_STRICT_MODELS, GroqBatchClient, writeBatchInputFiles } from '#groq-batch';
import { peakRssMb, report, startSimulatorProcess } from './common.js';

/** Build a 50,000-line input file (~100 MB) as a stream and upload it: prints the peak RSS (target < 256 MB). */
const LINES = Number(process.env.BENCH_LINES ?? 50_000);
const dir = mkdtempSync(join(tmpdir(), 'bench-upload-'));
const body = 'This PR reworks the retry policy of the webhook sender and adds tests for every edge case. '.repeat(4);

function* lines() {
  for (let i = 0; i < LINES; i++) {
    yield {
      customId: `acme/api#${i}`,
      body: buildPrAnalysisRequest(
        { repo: 'acme/api', title: `fix: retry ${i}`, body, author: 'octocat', labels: ['bug'], additions: 120, deletions: 30, changedFiles: 4, reviews: [] },
        { model: 'openai/gpt-oss-20b', maxTokens: 1_024, strictModels: DEFAULT_STRICT_MODELS },
      ),
    };
  }
}

const sim = await startSimulatorProcess(19_000 + Math.floor(Math.random() * 1_000));
try {
  const started = performance.now();
  const files = await writeBatchInputFiles(lines(), dir, { maxLines: 50_000, maxBytes: 100 * 1024 * 1024 }, 'bench');
  const built = performance.now();
  const client = new GroqBatchClient({ ...DEFAULT_GROQ_BATCH_CONFIG, apiKey: 'bench-key', baseURL: sim.url });
  for (const file of files) await client.uploadFile(file.path);
  const uploaded = performance.now();
  report('build + upload of a batch input', {
    lines: LINES,
    files: files.length,
    'total size': `${(files.reduce((s, f) => s + f.bytes, 0) / 1024 / 1024).toFixed(1)} MB`,
    'build seconds': ((built - started) / 1000).toFixed(2),
    'upload seconds': ((uploaded - built) / 1000).toFixed(2),
    'peak RSS (process)': `${peakRssMb().toFixed(0)} MB (target < 256 MB)`,
  });
} finally {
  sim.child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
