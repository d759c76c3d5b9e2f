import Groq, { toFile } from 'groq-sdk';
import { PR_ANALYSIS_SCHEMA_NAME, prAnalysisJsonSchema } from '../../../../libs/groq-batch/src/pr-analysis/pr-analysis.schema.js';
import type { BatchObject } from '../batch-object.js';

export const CHEAP = 'openai/gpt-oss-20b';
export const STRONG_REASONING = 'openai/gpt-oss-120b';
export const FALLBACK = 'llama-3.3-70b-versatile';
export const STRICT_MODELS = [CHEAP, STRONG_REASONING];

export interface PrFixture {
  title?: string;
  body?: string;
  author?: string;
  reviews?: Array<{ author: string; body: string }>;
  additions?: number;
  deletions?: number;
  files?: number;
}

export interface LineOptions {
  model?: string;
  maxTokens?: number;
  /** Overrides the response_format (default: the PR-analysis schema, strict on the gpt-oss models). */
  responseFormat?: Record<string, unknown> | null;
  pr?: PrFixture;
}

/** The user turn as Cascade's prompt writes it: the fields the simulated model reads. */
export function prUserText(pr: PrFixture = {}): string {
  const reviews = (pr.reviews ?? []).map((r) => `- review by ${r.author}: ${r.body}`).join('\n');
  return [
    '<untrusted_pr>',
    'repository: acme/api',
    `author: ${pr.author ?? 'octocat'}`,
    `title: ${pr.title ?? 'fix: retry loop never stops'}`,
    'labels: (none)',
    `size: +${pr.additions ?? 10} -${pr.deletions ?? 2} in ${pr.files ?? 1} files`,
    'body:',
    pr.body ?? 'Stops the retry loop after five attempts.',
    reviews ? `reviews:\n${reviews}` : 'reviews: (none)',
    '</untrusted_pr>',
  ].join('\n');
}

export function prAnalysisFormat(strict: boolean): Record<string, unknown> {
  return { type: 'json_schema', json_schema: { name: PR_ANALYSIS_SCHEMA_NAME, strict, schema: prAnalysisJsonSchema } };
}

export function requestLine(customId: string, options: LineOptions = {}): Record<string, unknown> {
  const model = options.model ?? CHEAP;
  const body: Record<string, unknown> = {
    model,
    messages: [
      { role: 'system', content: 'You classify GitHub pull requests. Answer with one JSON object that matches the schema.' },
      { role: 'user', content: prUserText(options.pr) },
    ],
    max_tokens: options.maxTokens ?? 1_024,
    temperature: 0,
  };
  const format = options.responseFormat === undefined ? prAnalysisFormat(STRICT_MODELS.includes(model)) : options.responseFormat;
  if (format !== null) body.response_format = format;
  return { custom_id: customId, method: 'POST', url: '/v1/chat/completions', body };
}

export function toJsonl(lines: ReadonlyArray<unknown>): string {
  return lines.map((line) => (typeof line === 'string' ? line : JSON.stringify(line))).join('\n') + '\n';
}

export function ids(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
}

export function groqClient(url: string, options: { maxRetries?: number; apiKey?: string } = {}): Groq {
  return new Groq({ apiKey: options.apiKey ?? 'gsk_simulator_test_key', baseURL: url, maxRetries: options.maxRetries ?? 2, timeout: 20_000 });
}

export const TERMINAL = ['completed', 'failed', 'expired', 'cancelled'];

export async function uploadJsonl(groq: Groq, jsonl: string, name = 'batch.jsonl'): Promise<string> {
  const file = await groq.files.create({ file: await toFile(Buffer.from(jsonl), name), purpose: 'batch' });
  return file.id!;
}

export async function createBatch(groq: Groq, inputFileId: string, metadata: Record<string, string> = {}): Promise<BatchObject> {
  return (await groq.batches.create({ input_file_id: inputFileId, endpoint: '/v1/chat/completions', completion_window: '24h', metadata })) as unknown as BatchObject;
}

/** Polls through the SDK as a client would, until a terminal status. */
export async function pollUntilTerminal(groq: Groq, batchId: string, timeoutMs = 30_000): Promise<BatchObject> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const batch = (await groq.batches.retrieve(batchId)) as unknown as BatchObject;
    if (TERMINAL.includes(batch.status)) return batch;
    if (Date.now() > deadline) throw new Error(`batch ${batchId} still ${batch.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export async function runBatchToEnd(groq: Groq, lines: ReadonlyArray<unknown>, metadata: Record<string, string> = {}): Promise<BatchObject> {
  const created = await createBatch(groq, await uploadJsonl(groq, toJsonl(lines)), metadata);
  return pollUntilTerminal(groq, created.id);
}

export async function fileText(groq: Groq, fileId: string | null | undefined): Promise<string> {
  if (!fileId) return '';
  const response = await groq.files.content(fileId);
  return response.text();
}

export async function fileLines(groq: Groq, fileId: string | null | undefined): Promise<string[]> {
  return (await fileText(groq, fileId)).split('\n').filter((line) => line !== '');
}

export interface OutputLine {
  id: string;
  custom_id: string;
  response: {
    status_code: number;
    request_id?: string;
    body: {
      model?: string;
      object?: string;
      choices?: Array<{ message: { role: string; content: string; reasoning?: string }; finish_reason: string }>;
      usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
      error?: { message: string; type: string; code: string | null; param?: string; failed_generation?: string };
    };
  } | null;
  error: { code: string; message: string } | null | undefined;
}

export async function parsedLines(groq: Groq, fileId: string | null | undefined): Promise<OutputLine[]> {
  return (await fileLines(groq, fileId)).map((line) => JSON.parse(line) as OutputLine);
}

/** Every line of both files of a finished batch, by custom_id. */
export async function outcomesById(groq: Groq, batch: BatchObject): Promise<Map<string, OutputLine>> {
  const all = [...(await parsedLines(groq, batch.output_file_id)), ...(await parsedLines(groq, batch.error_file_id))];
  return new Map(all.map((line) => [line.custom_id, line]));
}

export function errorCode(line: OutputLine | undefined): string | null {
  if (!line) return null;
  if (line.response?.status_code === 200) return 'ok';
  return line.response?.body.error?.code ?? line.error?.code ?? null;
}
