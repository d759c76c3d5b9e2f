import { type AttemptCounter, ShuffleWindow } from '../../groq-simulator/src/batch-runner.js';
import { seededUnit } from '../../groq-simulator/src/determinism.js';
import { JsonlWriter, readJsonlLines } from '../../groq-simulator/src/jsonl.js';
import { lineDigest } from '../../groq-simulator/src/line-answer.js';
import type { StatsRecorder } from '../../groq-simulator/src/stats.js';
import { rfc3339 } from './http.js';
import { answerMessageRequest, type RequestResult } from './message-answer.js';
import type { AnthropicSimulatorOptions } from './options.js';

export type ProcessingStatus = 'in_progress' | 'canceling' | 'ended';

export interface RequestCounts {
  processing: number;
  succeeded: number;
  errored: number;
  canceled: number;
  expired: number;
}

/** The MessageBatch object with every field Anthropic returns; unset timestamps are null. */
export interface MessageBatchObject {
  id: string;
  type: 'message_batch';
  processing_status: ProcessingStatus;
  request_counts: RequestCounts;
  ended_at: string | null;
  created_at: string;
  expires_at: string;
  archived_at: string | null;
  cancel_initiated_at: string | null;
  results_url: string | null;
}

/** A batch and what the simulator keeps beside it. */
export interface BatchJob {
  batch: MessageBatchObject;
  /** Creation time in ms by `clock` (the listing delay and the 404 quirk are measured from it). */
  createdAtMs: number;
  expiresAtMs: number;
  total: number;
  requestsPath: string;
  resultsPath: string;
  /** The URL results are served at, set as `results_url` once the batch has ended. */
  resultsUrl: string;
  cancelRequested: boolean;
}

export interface RunnerContext {
  /** Live options: faults, profiles and speed changed at runtime apply to the requests not yet run. */
  options: AnthropicSimulatorOptions;
  stats: StatsRecorder;
  attempts: AttemptCounter;
  isStopping: () => boolean;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const nextTick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Waits, waking early when the simulator stops or the batch is canceled. */
async function pause(ms: number, wake: () => boolean): Promise<void> {
  const until = Date.now() + ms;
  while (!wake()) {
    const left = until - Date.now();
    if (left <= 0) return;
    await sleep(Math.min(left, 25));
  }
}

/** The configured processing pace, or a yield every chunk so the server keeps answering at full speed. */
class Pacer {
  private dueAt = Date.now();
  private sinceYield = 0;

  constructor(private readonly options: AnthropicSimulatorOptions) {}

  async step(wake: () => boolean): Promise<void> {
    const { perLineDelayMs, linesPerSecond, chunkLines } = this.options;
    const perLineMs = Math.max(perLineDelayMs, linesPerSecond ? 1_000 / linesPerSecond : 0);
    this.dueAt = perLineMs > 0 ? Math.max(this.dueAt, Date.now() - 1_000) + perLineMs : Date.now();
    const wait = this.dueAt - Date.now();
    if (wait >= 1) return pause(wait, wake);
    if (++this.sinceYield >= chunkLines) {
      this.sinceYield = 0;
      await nextTick();
    }
  }
}

/** The results file: lines written in order, or through a bounded shuffle window. */
class ResultsSink {
  private readonly writer: JsonlWriter;

  constructor(
    path: string,
    private readonly window: ShuffleWindow | null,
  ) {
    this.writer = new JsonlWriter(path);
  }

  async write(line: string, key: string): Promise<void> {
    const out = this.window ? this.window.push(line, key) : line;
    if (out !== undefined) await this.writer.write(out);
  }

  async close(): Promise<void> {
    for (const line of this.window?.drain() ?? []) await this.writer.write(line);
    await this.writer.close();
  }
}

const COUNT_OF: Record<RequestResult['type'], keyof RequestCounts> = { succeeded: 'succeeded', errored: 'errored', canceled: 'canceled', expired: 'expired' };

/**
 * Runs one batch as Anthropic does: `in_progress` (counts show every request as processing) until
 * each request has a result, then `ended` with the counts, `ended_at` and `results_url` set together.
 * A cancel moves it to `canceling` and the requests not yet run to `canceled`; the 24 h window (or the
 * expiry fault) turns them `expired`. Requests are streamed from disk and results written as a stream.
 */
export async function runMessageBatch(job: BatchJob, ctx: RunnerContext): Promise<void> {
  const { batch } = job;
  const { options, stats, attempts } = ctx;
  const faults = options.faults;
  const wake = () => ctx.isStopping() || job.cancelRequested;
  const counts: RequestCounts = { processing: 0, succeeded: 0, errored: 0, canceled: 0, expired: 0 };
  const sink = new ResultsSink(job.resultsPath, faults.shuffle ? new ShuffleWindow(options.shuffleWindowLines, options.seed) : null);
  const pacer = new Pacer(options);
  let stop: 'canceled' | 'expired' | null = null;
  let processed = 0;

  await pause(options.stageDelayMs, wake);
  try {
    for await (const { text } of readJsonlLines(job.requestsPath)) {
      if (ctx.isStopping()) return;
      if (text === '') continue;
      const request = JSON.parse(text) as { custom_id: string; params: Record<string, unknown> };
      const customId = request.custom_id;
      if (!stop) {
        const fraction = faults.expireAfterFraction;
        if (job.cancelRequested) stop = 'canceled';
        else if ((fraction !== null && processed >= Math.floor(job.total * fraction)) || options.clock() >= job.expiresAtMs) stop = 'expired';
      }
      let result: RequestResult;
      let outcome: string;
      let billed: { promptTokens: number; completionTokens: number } | null = null;
      const model = typeof request.params.model === 'string' ? request.params.model : '';
      if (stop) {
        result = { type: stop };
        outcome = stop;
      } else {
        const digest = lineDigest(text);
        const attempt = attempts.next(customId, model, digest);
        const answer = answerMessageRequest(customId, request.params, { seed: options.seed, model, profile: options.profiles[model], attempt, digest });
        ({ result, outcome, billed } = answer);
        for (const kind of answer.deviations) stats.deviation(kind);
        processed++;
        stats.lineProcessed(model);
      }
      counts[COUNT_OF[result.type]]++;

      // Faults that break the results' promises: a request with no line, or a line that is not JSON.
      const roll = (what: string) => seededUnit(options.seed, what, batch.id, customId);
      const dropped = faults.missingRate > 0 && roll('missing') < faults.missingRate;
      const malformedRoll = !dropped && faults.malformedRate > 0 ? roll('malformed') : 1;
      const malformed = malformedRoll < faults.malformedRate;
      // Only succeeded requests are billed, whatever reaches the results.
      if (billed) stats.billed(batch.id, model, billed, options.prices[model], dropped || malformed);
      if (dropped) {
        stats.outcome(batch.id, customId, 'missing');
      } else {
        let line = JSON.stringify({ custom_id: customId, result });
        if (malformed) line = line.slice(0, Math.floor(line.length * (0.4 + (malformedRoll / faults.malformedRate) * 0.5)));
        stats.outcome(batch.id, customId, malformed ? 'malformed' : outcome);
        await sink.write(line, customId);
      }
      if (!stop) await pacer.step(wake);
    }
  } finally {
    await sink.close();
  }
  if (ctx.isStopping()) return;
  // Canceling, like finishing, takes the stage delay.
  await pause(options.stageDelayMs, ctx.isStopping);
  if (ctx.isStopping()) return;
  // Counts, status and results_url change together: a poller never sees `ended` without its results.
  Object.assign(batch, { processing_status: 'ended', request_counts: counts, ended_at: rfc3339(options.clock()), results_url: job.resultsUrl });
}
