import type { BatchJob } from './batch-object.js';
import { validateBatchInput } from './batch-validation.js';
import { seededUnit, ulidId } from './determinism.js';
import { discard, type FileStore } from './file-store.js';
import { JsonlWriter, readJsonlLines } from './jsonl.js';
import { answerChatRequest, type LineAnswer, lineDigest } from './line-answer.js';
import { baseProfileFor, type SimulatorApi, type SimulatorOptions } from './options.js';
import type { StatsRecorder } from './stats.js';

export interface RunnerContext {
  /** Live options: faults, profiles and speed changed at runtime apply to the lines not yet run. */
  options: SimulatorOptions;
  files: FileStore;
  stats: StatsRecorder;
  attempts: AttemptCounter;
  isStopping: () => boolean;
}

/** How many times each request content has run per custom_id and model: what makes 5xx and line faults transient. */
export class AttemptCounter {
  private readonly counts = new Map<string, number>();

  next(customId: string, model: string, digest: string): number {
    const key = `${model}\u0000${customId}\u0000${digest}`;
    const attempt = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, attempt);
    return attempt;
  }
}

/**
 * Holds back up to `size` lines and releases a pseudo-random one as each new line arrives: output
 * comes out of input order, as Groq's does, with memory bounded by the window, not the batch.
 */
export class ShuffleWindow {
  private readonly held: string[] = [];

  constructor(
    private readonly size: number,
    private readonly seed: number,
  ) {}

  push(line: string, key: string): string | undefined {
    if (this.held.length < this.size) {
      this.held.push(line);
      return undefined;
    }
    const at = Math.floor(seededUnit(this.seed, 'shuffle', key) * this.held.length);
    const out = this.held[at]!;
    this.held[at] = line;
    return out;
  }

  drain(): string[] {
    for (let i = this.held.length - 1; i > 0; i--) {
      const j = Math.floor(seededUnit(this.seed, 'drain', i, this.held.length) * (i + 1));
      [this.held[i], this.held[j]] = [this.held[j]!, this.held[i]!];
    }
    return this.held.splice(0);
  }
}

/** One output file being written, shuffled or in order. */
class OutputSink {
  private readonly writer: JsonlWriter;
  private readonly window: ShuffleWindow | null;

  constructor(path: string, shuffle: ShuffleWindow | null) {
    this.writer = new JsonlWriter(path);
    this.window = shuffle;
  }

  get path(): string {
    return this.writer.path;
  }

  get lines(): number {
    return this.writer.lines;
  }

  write(line: string, key: string): Promise<void> | undefined {
    const out = this.window ? this.window.push(line, key) : line;
    return out === undefined ? undefined : this.writer.write(out);
  }

  async close(): Promise<void> {
    for (const line of this.window?.drain() ?? []) {
      const flushed = this.writer.write(line);
      if (flushed) await flushed;
    }
    await this.writer.close();
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const nextTick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Waits, waking early when the simulator stops or the batch is cancelled. */
async function pause(ms: number, wake: () => boolean): Promise<void> {
  const until = Date.now() + ms;
  while (!wake()) {
    const left = until - Date.now();
    if (left <= 0) return;
    await sleep(Math.min(left, 25));
  }
}

/**
 * One line of the output or error file. Groq's error lines carry neither a request id nor `error`
 * (as in its real error file); OpenAI's lines all have the same four members.
 */
function outputRecord(api: SimulatorApi, customId: string, answer: LineAnswer): Record<string, unknown> {
  const id = ulidId('batch_req_out');
  if (answer.statusCode === 200 || api === 'openai') {
    return { id, custom_id: customId, response: { status_code: answer.statusCode, request_id: answer.requestId, body: answer.body }, error: null };
  }
  return { id, custom_id: customId, response: { status_code: answer.statusCode, body: answer.body } };
}

const UNFINISHED_MESSAGES = {
  batch_expired: 'This request could not be executed before the completion window expired.',
  batch_cancelled: 'This request was not executed because the batch was cancelled.',
} as const;

/**
 * Runs one batch through the Batch API lifecycle (Groq's and OpenAI's are the same): validating →
 * in_progress → finalizing → completed, or failed at validation, expired part-way, or cancelled. Input
 * is streamed line by line and output and error files are written as streams, so a 50,000-line batch
 * needs no more memory than a small one.
 */
export async function runBatch(job: BatchJob, ctx: RunnerContext): Promise<void> {
  const { batch } = job;
  const { options, files } = ctx;
  const nowSeconds = () => Math.floor(options.clock() / 1000);
  const windowPassed = () => options.clock() >= batch.expires_at * 1000;
  const inputPath = files.retain(batch.input_file_id);
  try {
    await pause(options.stageDelayMs, () => ctx.isStopping() || job.cancelRequested);
    if (ctx.isStopping()) return;
    if (job.cancelRequested) {
      await pause(options.stageDelayMs, ctx.isStopping);
      Object.assign(batch, { status: 'cancelled', cancelled_at: nowSeconds() });
      return;
    }
    const validation = await validateBatchInput(inputPath, {
      endpoint: batch.endpoint,
      isKnownModel: (model) => Object.hasOwn(options.profiles, model),
      maxLines: options.maxLinesPerFile,
      maxErrors: options.maxValidationErrors,
      chunkLines: options.chunkLines,
      shouldStop: () => ctx.isStopping() || job.cancelRequested,
    });
    if (ctx.isStopping()) return;
    if (options.faults.failValidation) {
      validation.errors.push({ code: 'simulated_validation_failure', message: 'Input file validation failed (simulated fault).', param: null, line: null });
    }
    if (validation.errors.length > 0 && !job.cancelRequested) {
      Object.assign(batch, { status: 'failed', failed_at: nowSeconds(), errors: { object: 'list', data: validation.errors } });
      return;
    }
    if (job.cancelRequested || windowPassed()) {
      const cancelled = job.cancelRequested;
      Object.assign(batch, cancelled ? { status: 'cancelled', cancelled_at: nowSeconds() } : { status: 'expired', expired_at: nowSeconds() });
      return;
    }
    Object.assign(batch, { status: 'in_progress', in_progress_at: nowSeconds() });
    batch.request_counts.total = validation.requests;
    await processLines(job, inputPath, ctx);
  } finally {
    files.release(batch.input_file_id);
  }
}

async function processLines(job: BatchJob, inputPath: string, ctx: RunnerContext): Promise<void> {
  const { batch } = job;
  const { options, files, stats, attempts } = ctx;
  const faults = options.faults;
  const nowSeconds = () => Math.floor(options.clock() / 1000);
  const shuffle = faults.shuffle;
  const output = new OutputSink(files.scratchPath('output'), shuffle ? new ShuffleWindow(options.shuffleWindowLines, options.seed) : null);
  const errors = new OutputSink(files.scratchPath('errors'), shuffle ? new ShuffleWindow(options.shuffleWindowLines, options.seed) : null);
  const total = batch.request_counts.total;
  let stop: 'batch_expired' | 'batch_cancelled' | null = null;
  let processed = 0;
  let sinceYield = 0;
  let dueAt = Date.now();
  let closeFailure: PromiseRejectedResult | undefined;

  try {
    for await (const { text } of readJsonlLines(inputPath)) {
      if (ctx.isStopping()) return;
      if (text.trim() === '') continue;
      const line = JSON.parse(text) as { custom_id: string; body: Record<string, unknown> };
      const customId = line.custom_id;
      if (!stop) {
        const fraction = faults.expireAfterFraction;
        if (job.cancelRequested) stop = 'batch_cancelled';
        else if ((fraction !== null && processed >= Math.floor(total * fraction)) || options.clock() >= batch.expires_at * 1000) stop = 'batch_expired';
      }
      if (stop) {
        stats.outcome(batch.id, customId, stop);
        // OpenAI documents that unfinished lines go to the error file; for Groq it is unconfirmed, so a fault decides.
        if (options.api === 'openai' || faults.unfinishedInErrorFile) {
          const record = { id: ulidId('batch_req_out'), custom_id: customId, response: null, error: { code: stop, message: UNFINISHED_MESSAGES[stop] } };
          const flushed = errors.write(JSON.stringify(record), customId);
          if (flushed) await flushed;
        }
        continue;
      }

      const model = String(line.body.model);
      const digest = lineDigest(text);
      const attempt = attempts.next(customId, model, digest);
      const answer = answerChatRequest(customId, line.body, {
        api: options.api,
        seed: options.seed,
        model,
        profile: options.profiles[model] ?? baseProfileFor(options.api),
        attempt,
        outputTooLongAs: options.outputTooLongAs,
        nowSeconds: nowSeconds(),
        digest,
      });
      processed++;
      if (answer.statusCode === 200) batch.request_counts.completed++;
      else batch.request_counts.failed++;
      stats.lineProcessed(model);

      // Faults that break the files' promises: a line in neither file, or a line that is not JSON.
      const dropped = faults.missingRate > 0 && seededUnit(options.seed, 'missing', customId, model, digest, attempt) < faults.missingRate;
      const malformedRoll = !dropped && faults.malformedRate > 0 ? seededUnit(options.seed, 'malformed', customId, model, digest, attempt) : 1;
      const malformed = malformedRoll < faults.malformedRate;
      // Billed as the provider bills: what the line read and generated, whether or not it failed or reached a file.
      if (answer.billed) stats.billed(batch.id, model, answer.billed, options.prices[model], answer.statusCode !== 200 || dropped || malformed);
      if (dropped) {
        stats.outcome(batch.id, customId, 'missing');
      } else {
        const record = outputRecord(options.api, customId, answer);
        let serialised = JSON.stringify(record);
        if (malformed) {
          serialised = serialised.slice(0, Math.floor(serialised.length * (0.4 + (malformedRoll / faults.malformedRate) * 0.5)));
          stats.outcome(batch.id, customId, 'malformed');
        } else {
          stats.outcome(batch.id, customId, answer.outcome);
          for (const kind of 'deviations' in answer ? (answer.deviations ?? []) : []) stats.deviation(kind);
        }
        const flushed = (answer.statusCode === 200 ? output : errors).write(serialised, customId);
        if (flushed) await flushed;
      }

      // Pacing: the configured rate, or a yield every chunk so the server keeps answering at full speed.
      const perLineMs = Math.max(options.perLineDelayMs, options.linesPerSecond ? 1_000 / options.linesPerSecond : 0);
      if (perLineMs > 0) {
        dueAt = Math.max(dueAt, Date.now() - 1_000) + perLineMs;
        const wait = dueAt - Date.now();
        if (wait >= 1) await pause(wait, () => ctx.isStopping() || job.cancelRequested);
        else if (++sinceYield >= options.chunkLines) {
          sinceYield = 0;
          await nextTick();
        }
      } else {
        dueAt = Date.now();
        if (++sinceYield >= options.chunkLines) {
          sinceYield = 0;
          await nextTick();
        }
      }
    }
  } finally {
    // Both files are closed whatever happened; a close failure surfaces below unless an earlier error is on its way.
    closeFailure = (await Promise.allSettled([output.close(), errors.close()])).find((result) => result.status === 'rejected');
    if (ctx.isStopping()) {
      discard(output.path);
      discard(errors.path);
    }
  }
  if (closeFailure) throw new Error(`batch ${batch.id}: ${(closeFailure.reason as Error).message}`, { cause: closeFailure.reason });
  if (ctx.isStopping()) return;

  const finalStatus = stop === 'batch_cancelled' || job.cancelRequested ? 'cancelled' : stop === 'batch_expired' ? 'expired' : 'completed';
  if (finalStatus === 'completed') Object.assign(batch, { status: 'finalizing', finalizing_at: nowSeconds() });
  await pause(finalStatus === 'expired' ? 0 : options.stageDelayMs, ctx.isStopping);
  if (ctx.isStopping()) return;
  // A file only when it has lines: an all-failed batch completes with an error file and no output file.
  const register = (sink: OutputSink, kind: string) => {
    if (sink.lines > 0) return files.add(sink.path, `${batch.id}_${kind}.jsonl`, 'batch_output').id;
    discard(sink.path);
    return null;
  };
  const outputFileId = register(output, 'output');
  const errorFileId = register(errors, 'error');
  // Files and status change together, so a poller never sees a terminal status without its files.
  Object.assign(batch, { output_file_id: outputFileId, error_file_id: errorFileId, status: finalStatus, [`${finalStatus}_at`]: nowSeconds() });
}
