import Groq from 'groq-sdk';
import { once } from 'node:events';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PR_ANALYSIS_SCHEMA_NAME, prAnalysisJsonSchema } from '../../../libs/groq-batch/src/pr-analysis/pr-analysis.schema.js';
import { startGroqSimulator } from '../src/simulator.js';

export interface LargeBatchFigures {
  lines: number;
  inputMb: number;
  baselineRssMb: number;
  peakRssMb: number;
  growthMb: number;
  uploadMs: number;
  processingMs: number;
  linesPerSecond: number;
  status: string;
  outputLines: number;
  errorLines: number;
}

const TERMINAL = new Set(['completed', 'failed', 'expired', 'cancelled']);
const rssMb = () => process.memoryUsage().rss / 1024 / 1024;

/** Writes a PR-analysis input file line by line, as the batch-submitter does. */
async function writeInput(path: string, lines: number, model: string): Promise<void> {
  const out = createWriteStream(path);
  for (let i = 0; i < lines; i++) {
    const ai = i % 5 === 0 ? '\n\n🤖 Generated with [Claude Code](https://claude.com/claude-code)' : '';
    const line = JSON.stringify({
      custom_id: `pr-${i}`,
      method: 'POST',
      url: '/v1/chat/completions',
      body: {
        model,
        messages: [
          { role: 'system', content: 'You classify GitHub pull requests. Answer with one JSON object that matches the schema.' },
          {
            role: 'user',
            content: `<untrusted_pr>\nrepository: acme/api\nauthor: dev${i % 97}\ntitle: ${['fix', 'feat', 'refactor', 'docs', 'chore(deps)'][i % 5]}: change ${i}\nlabels: (none)\nsize: +${i % 700} -${i % 90} in ${1 + (i % 12)} files\nbody:\nReworks part ${i} of the request pipeline.${ai}\nreviews: (none)\n</untrusted_pr>`,
          },
        ],
        response_format: { type: 'json_schema', json_schema: { name: PR_ANALYSIS_SCHEMA_NAME, strict: true, schema: prAnalysisJsonSchema } },
        max_tokens: 1_024,
        temperature: 0,
      },
    });
    if (!out.write(`${line}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

/** Uploads a file as a streamed multipart body (groq-sdk would read it into memory first). */
async function uploadStreaming(baseUrl: string, path: string): Promise<string> {
  const boundary = `----cascade${Date.now().toString(16)}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="large.jsonl"\r\nContent-Type: application/jsonl\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const size = statSync(path).size;
  const req = request(`${baseUrl}/openai/v1/files`, {
    method: 'POST',
    headers: {
      authorization: 'Bearer bench',
      'content-type': `multipart/form-data; boundary=${boundary}`,
      'content-length': String(head.length + size + tail.length),
    },
  });
  const answered = once(req, 'response');
  req.write(head);
  for await (const chunk of createReadStream(path)) if (!req.write(chunk)) await once(req, 'drain');
  req.end(tail);
  const [response] = (await answered) as [import('node:http').IncomingMessage];
  let text = '';
  for await (const chunk of response) text += String(chunk);
  if (response.statusCode !== 200) throw new Error(`upload of ${path} failed with HTTP ${response.statusCode}: ${text}`);
  return (JSON.parse(text) as { id: string }).id;
}

async function countLines(groq: Groq, fileId: string | null): Promise<number> {
  if (!fileId) return 0;
  const response = await groq.files.content(fileId);
  const reader = response.body!.getReader();
  let lines = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return lines;
    for (let at = value.indexOf(10); at >= 0; at = value.indexOf(10, at + 1)) lines++;
  }
}

/**
 * Runs one large batch through an in-process simulator and reports resident memory: the baseline is taken
 * after the upload, the peak is sampled while the batch runs and while its files are downloaded.
 */
export async function measureLargeBatch(lines = 50_000, model = 'openai/gpt-oss-20b'): Promise<LargeBatchFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'groq-sim-bench-'));
  const sim = await startGroqSimulator({ seed: 42 });
  try {
    const inputPath = join(dir, 'input.jsonl');
    await writeInput(inputPath, lines, model);
    const inputMb = statSync(inputPath).size / 1024 / 1024;
    const groq = new Groq({ apiKey: 'bench', baseURL: sim.url, maxRetries: 0 });

    const uploadStarted = Date.now();
    const inputFileId = await uploadStreaming(sim.url, inputPath);
    const uploadMs = Date.now() - uploadStarted;

    const baselineRssMb = rssMb();
    let peakRssMb = baselineRssMb;
    const sampler = setInterval(() => {
      peakRssMb = Math.max(peakRssMb, rssMb());
    }, 10);
    try {
      const started = Date.now();
      const created = await groq.batches.create({ input_file_id: inputFileId, endpoint: '/v1/chat/completions', completion_window: '24h' });
      let batch = await groq.batches.retrieve(created.id);
      while (!TERMINAL.has(batch.status)) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        batch = await groq.batches.retrieve(created.id);
      }
      const processingMs = Date.now() - started;
      const outputLines = await countLines(groq, batch.output_file_id ?? null);
      const errorLines = await countLines(groq, batch.error_file_id ?? null);
      peakRssMb = Math.max(peakRssMb, rssMb());
      return {
        lines,
        inputMb: Math.round(inputMb * 10) / 10,
        baselineRssMb: Math.round(baselineRssMb),
        peakRssMb: Math.round(peakRssMb),
        growthMb: Math.round(peakRssMb - baselineRssMb),
        uploadMs,
        processingMs,
        linesPerSecond: Math.round((lines / processingMs) * 1000),
        status: batch.status,
        outputLines,
        errorLines,
      };
    } finally {
      clearInterval(sampler);
    }
  } finally {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
