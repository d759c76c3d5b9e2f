import { Topic } from '#contracts';
import { topicName } from '#platform';
import type { Kafka } from 'kafkajs';
import type { GroqSimulator } from '../../tools/groq-simulator/src/simulator.js';
import { type BenchMessage, produce } from './floor.js';
import { milestones } from './measure.js';
import { startOtlpSink } from './otlp-sink.js';
import { cpuBetween } from './scale.js';
import { phaseSetup, serviceEnv, startServices, untilAllTerminal } from './stack.js';

/** The untraced phases: whatever OTEL_* the bench was started with, the baseline runs with tracing off. */
export const TRACING_OFF: Record<string, string> = { OTEL_TRACES_EXPORTER: 'none' };

/**
 * The traced phase: the SDK's defaults (OTLP over HTTP, protobuf, batch span processor) to a local receiver;
 * with `sample` below 1, the head sampler operators use at volume (a request's root decides for its whole trace).
 */
export function tracingOn(endpoint: string, sample = 1): Record<string, string> {
  const exporter = { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' };
  return sample < 1 ? { ...exporter, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: String(sample) } : exporter;
}

export interface TracedFigures {
  /** First publish -> last ResultsMerged, as in the untraced phase. */
  pipelineMs: number;
  finished: boolean;
  /** CPU seconds of each service from the first publish to the end. */
  cpuSeconds: Record<string, number>;
  exported: { requests: number; bytes: number; spans: number };
}

export interface TracedPhaseInput {
  postgresUrl: string;
  brokers: string;
  client: Kafka;
  simulator: GroqSimulator;
  settings: Record<string, string>;
  /** Share of requests traced (1: all). */
  sample: number;
  messages: BenchMessage[];
  stamp: string;
  timeoutMs: number;
  keepDb: boolean;
  cleanups: Array<() => Promise<unknown>>;
  log: (line: string) => void;
}

/**
 * `npm run bench -- --tracing`: the same PRs again, through a fresh database and topic prefix, with tracing on
 * and every span exported over OTLP/HTTP to a receiver in the bench process (or, `traced` false, with tracing
 * off: the other half of an alternated pair, see `--tracing-pairs`). Measured as the untraced run is.
 */
export async function tracedPhase(input: TracedPhaseInput, traced = true, name = 'traced'): Promise<TracedFigures> {
  const { stamp, log } = input;
  const phase = await phaseSetup(input.postgresUrl, `cascade_bench_${stamp}_${name}`, `bench-${stamp}-${name}.`, input.cleanups, input.keepDb);
  const sink = traced ? await startOtlpSink() : null;
  if (sink) input.cleanups.push(() => sink.stop());
  const tracing = sink ? tracingOn(sink.url, input.sample) : TRACING_OFF;
  const services = await startServices(serviceEnv(phase, input.brokers, input.simulator, { ...input.settings, ...tracing }), `${stamp}-${name}`);
  input.cleanups.push(() => services.stop());
  log(`${name} phase: four services ready${sink ? `, spans exported to ${sink.url}` : ', tracing off'}; publishing…`);
  const before = services.figures();
  const t0 = Date.now();
  await produce(input.client, topicName(Topic.PrIngested, phase.prefix), input.messages);
  const finished = await untilAllTerminal(phase.dataSource, input.messages.length, input.timeoutMs, (line) => log(`${name} phase: ${line}`));
  const seenDone = Date.now();
  const after = services.figures();
  // Stopped before counting: a service exports the spans it still holds when it shuts down.
  await services.stop();
  const marks = await milestones(phase.dataSource);
  return { pipelineMs: (marks['last result merged'] ?? seenDone) - t0, finished, cpuSeconds: cpuBetween(before, after), exported: sink?.stats() ?? { requests: 0, bytes: 0, spans: 0 } };
}

/** One alternated pair: the same PRs untraced and traced, each on a fresh stack. */
export interface TracingPair {
  off: TracedFigures;
  on: TracedFigures;
}

/**
 * `--tracing-pairs N`: N pairs of fresh phases, untraced and traced, in alternating order (off then on, then on
 * then off, …), so that neither side always runs first on a machine whose speed drifts.
 */
export async function alternatedPairs(input: TracedPhaseInput, pairs: number): Promise<TracingPair[]> {
  const out: TracingPair[] = [];
  for (let i = 0; i < pairs; i++) {
    const first = i % 2 === 0 ? 'off' : 'on';
    const a = await tracedPhase(input, first === 'on', `pair${i + 1}-${first}`);
    const b = await tracedPhase(input, first !== 'on', `pair${i + 1}-${first === 'on' ? 'off' : 'on'}`);
    out.push(first === 'on' ? { on: a, off: b } : { off: a, on: b });
  }
  return out;
}

/** Throughput traced over untraced of each pair (time off / time on), and their median. */
export function pairRatios(pairs: readonly TracingPair[]): { ratios: number[]; median: number } {
  const ratios = pairs.map((pair) => pair.off.pipelineMs / pair.on.pipelineMs);
  const sorted = [...ratios].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length === 0 ? NaN : sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { ratios, median };
}
