import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { Topic } from '#contracts';
import { PROVIDER_BATCH_LIMITS } from '#batching';
import { ledgerEquation, reconcile, type ReconcileReport } from '#ledger';
import { createKafka, topicName } from '#platform';
import { ensureKafka, ensurePostgres } from '../../apps/cli/src/demo/local-stack.js';
import { syntheticPrs, type SyntheticOptions } from '../../apps/cli/src/demo/synthetic-prs.js';
import { type SimulatorStats, startGroqSimulator } from '../../tools/groq-simulator/src/simulator.js';
import { insertFloor, kafkaFloor, produce } from './floor.js';
import {
  batchTimes,
  type BatchTimes,
  compactTables,
  costFigures,
  type CostFigures,
  milestones,
  publishedFigures,
  type PublishedFigures,
  spread,
  storageFigures,
  type StorageFigures,
} from './measure.js';
import { BackendCpuWatch } from './proc.js';
import { cpuBetween, perThousand, type ScaleFigures, scaleFigures } from './scale.js';
import {
  benchCommit,
  describeMachine,
  encodePrs,
  loadAverage,
  PARTITIONS,
  phaseSetup,
  pipelineSettings,
  ProviderWatch,
  SERVICES,
  type ServiceFigures,
  serviceEnv,
  startServices,
  untilAllTerminal,
} from './stack.js';
import { alternatedPairs, pairRatios, type TracedFigures, tracedPhase, type TracingPair, TRACING_OFF } from './traced-phase.js';

/**
 * `npm run bench [-- --prs 100000]`: the whole pipeline, each service a process of its own, against a
 * floor measured in the same run on the same broker and database; memory of every service; cost
 * against an oracle and against always-strong; latency added after the provider completes a batch.
 * `--tracing` runs the same PRs a second time with tracing on (OTLP export to a local receiver) and
 * compares the throughput. Prints figures; targets are reported as PASS / MISS, never asserted.
 */
const { values: flags } = parseArgs({
  options: {
    prs: { type: 'string', default: '100000' },
    seed: { type: 'string', default: '42' },
    'batch-lines': { type: 'string', default: '1000' },
    'poller-lines': { type: 'string', default: '50000' },
    'timeout-min': { type: 'string', default: '60' },
    'keep-db': { type: 'boolean', default: false },
    tracing: { type: 'boolean', default: false },
    'tracing-sample': { type: 'string', default: '1' },
    'tracing-pairs': { type: 'string', default: '1' },
  },
});
const count = (name: string, value: string, min = 1) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got "${value}"`);
  return n;
};
const N = count('prs', flags.prs);
const SEED = count('seed', flags.seed);
const BATCH_LINES = count('batch-lines', flags['batch-lines']);
const POLLER_LINES = count('poller-lines', flags['poller-lines'], 0);
const TIMEOUT_MS = count('timeout-min', flags['timeout-min']) * 60_000;
/** Share of requests traced in the traced phase: 1 traces every request (the SDK's default sampler). */
const TRACING_SAMPLE = Number(flags['tracing-sample']);
if (!(TRACING_SAMPLE > 0 && TRACING_SAMPLE <= 1)) throw new Error(`--tracing-sample must be a ratio in (0, 1], got "${flags['tracing-sample']}"`);
/** 1: the traced phase against the main run; more: that many alternated pairs of fresh phases, judged by their median. */
const TRACING_PAIRS = count('tracing-pairs', flags['tracing-pairs']);
const SAMPLER_LINE = `  sampler: ${TRACING_SAMPLE === 1 ? 'every request traced (parentbased_always_on)' : `parentbased_traceidratio ${TRACING_SAMPLE}: that share of requests traced, each whole`}`;
/** Long enough for the poller phase's PRs to be ingested before the largest batch is cut; its tail follows. */
const POLLER_PHASE_LINGER_MS = 60_000;
const CHEAP_MODEL = 'openai/gpt-oss-20b';
const STRONG_MODEL = 'llama-3.3-70b-versatile';
const MEMORY_TARGET_MB = 256;
/** Throughput with tracing on may fall at most this much below the untraced run's. */
const TRACING_COST_TARGET = 0.05;

const startedAt = Date.now();
const loadAtStart = loadAverage();
const log = (line: string) => process.stderr.write(`[bench +${((Date.now() - startedAt) / 1000).toFixed(0)}s] ${line}\n`);
const out: string[] = [];
const say = (line = '') => out.push(line);
const s = (msValue: number | null | undefined, digits = 2) => (msValue === null || msValue === undefined || !Number.isFinite(msValue) ? '-' : (msValue / 1000).toFixed(digits));
const usd = (value: number) => `$${value.toFixed(5)}`;
const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');

/** Settings the services run with in this bench (on top of their defaults); printed with the figures. */
const PIPELINE_SETTINGS = pipelineSettings(BATCH_LINES);

/** Whole-machine CPU counters from /proc/stat: busy and total jiffies over every core. */
function machineCpu(): { busy: number; total: number } {
  try {
    const [, ...numbers] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
    const values = numbers.map(Number);
    const idle = (values[3] ?? 0) + (values[4] ?? 0);
    const total = values.slice(0, 8).reduce((sum, v) => sum + v, 0);
    return { busy: total - idle, total };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

function memoryLines(title: string, peaks: Record<string, ServiceFigures | null>, only?: string): boolean {
  say(title);
  let ok = true;
  const mb = (value: number | undefined) => (value !== undefined && Number.isFinite(value) ? value.toFixed(0).padStart(4) : '   ?');
  for (const name of SERVICES) {
    const peak = peaks[name]?.peakMb ?? NaN;
    const heap = peaks[name]?.liveHeap;
    const judged = !only || only === name;
    const pass = Number.isFinite(peak) && peak < MEMORY_TARGET_MB;
    if (judged) ok &&= pass;
    say(
      `  ${name.padEnd(16)} peak RSS ${mb(peak)} MB   live heap after a full collection ${mb(heap?.heapUsedMb)} MB (RSS then ${mb(heap?.rssMb)} MB)   ` +
        (judged ? `${verdict(pass)} (target < ${MEMORY_TARGET_MB} MB)` : '(not judged here)'),
    );
  }
  return ok;
}

function scaleLines(
  scale: ScaleFigures,
  storage: StorageFigures,
  compacted: StorageFigures,
  provider: SimulatorStats,
  kafka: { inputBytes: number; prefix: string; published: PublishedFigures[] },
  floorMs: number,
  otherCpuSeconds: { bench: number; database: number | null },
  autovacuum: string,
): void {
  const thousands = (value: number) => Math.round(value).toLocaleString('en-US');
  const per1k = (value: number) => perThousand(value, scale.prs);
  say(`  time per 1,000 PRs: pipeline ${scale.secondsPer1kPrs.toFixed(2)} s, floor ${perThousand(floorMs / 1000, scale.prs).toFixed(3)} s`);
  say(
    `  CPU seconds per 1,000 PRs, first publish -> end of the run: ${SERVICES.map((name) => `${name} ${scale.cpuSecondsPer1kPrs[name]?.toFixed(2) ?? '?'}`).join(', ')};` +
      ` bench process with the simulator ${per1k(otherCpuSeconds.bench).toFixed(2)}`,
  );
  say(
    `    PostgreSQL backends serving the services (by their client ports; /proc every second):` +
      ` ${otherCpuSeconds.database === null ? 'unknown (not on this host)' : per1k(otherCpuSeconds.database).toFixed(2)}`,
  );
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;
  const tableBytes = storage.tables.reduce((sum, t) => sum + t.bytes, 0);
  say(
    `  database bytes per PR: ${thousands(scale.bytesPerPr)} as the run left them, ${thousands(scale.compactedBytesPerPr)} after VACUUM FULL (live rows only): the sum of` +
      ` pg_total_relation_size (heap, indexes, TOAST) over the ${storage.tables.length} tables of the database, ${mb(tableBytes)} after the run;`,
  );
  say(
    `    pg_database_size, which adds the catalog, was ${mb(storage.databaseBytes)} (${thousands(storage.databaseBytes / scale.prs)} per PR), ${mb(compacted.databaseBytes)} compacted;` +
      ` autovacuum=${autovacuum}${autovacuum === 'on' ? '' : ': the updated tables keep every dead row version until a VACUUM'}`,
  );
  say(`  row writes per PR (inserted + updated + deleted, pg_stat_user_tables): ${scale.rowWritesPerPr.toFixed(2)}`);
  say(`    ${'table'.padEnd(24)} ${'bytes/PR'.padStart(9)} ${'compacted'.padStart(9)} ${'rows/PR'.padStart(8)} ${'ins/PR'.padStart(7)} ${'upd/PR'.padStart(7)} ${'del/PR'.padStart(7)}`);
  for (const t of storage.tables) {
    const per = (value: number) => (value / scale.prs).toFixed(2).padStart(7);
    const compactedPerPr = scale.compactedBytesPerPrByTable[t.table];
    say(
      `    ${t.table.padEnd(24)} ${thousands(t.bytes / scale.prs).padStart(9)} ${(compactedPerPr === undefined ? '?' : thousands(compactedPerPr)).padStart(9)}` +
        ` ${(t.rows / scale.prs).toFixed(3).padStart(8)} ${per(t.inserted)} ${per(t.updated)} ${per(t.deleted)}`,
    );
  }
  say(
    `  Kafka per 1,000 PRs: ${Topic.PrIngested} 1,000 messages, ${mb(per1k(kafka.inputBytes))} (the input); published by the services (outbox, values only):` +
      ` ${kafka.published.map((p) => `${p.topic.startsWith(kafka.prefix) ? p.topic.slice(kafka.prefix.length) : p.topic} ${per1k(p.messages).toFixed(1)} messages ${mb(per1k(p.bytes))}`).join(', ')}`,
  );
  const billed = Object.values(provider.billed.byModel);
  const lines = Object.values(provider.linesProcessed).reduce((sum, n) => sum + n, 0);
  say(
    `  provider per 1,000 PRs (the simulator's counts): ${per1k(provider.batchesCreated).toFixed(2)} batches, ${per1k(lines).toFixed(0)} lines run,` +
      ` ${thousands(per1k(billed.reduce((sum, b) => sum + b.promptTokens, 0)))} prompt and ${thousands(per1k(billed.reduce((sum, b) => sum + b.completionTokens, 0)))} completion tokens billed;`,
  );
  say(`    HTTP calls (the services at the bench's fast poll settings; most list calls, GET /openai/v1/batches, are the bench's own watch): ${Object.entries(provider.calls).map(([route, n]) => `${route} ${per1k(n).toFixed(1)}`).join(', ')}`);
}

const pairsFinished = (pairs: readonly TracingPair[]) => pairs.every((pair) => pair.on.finished && pair.off.finished);

/** Section 6 with `--tracing-pairs N`: each alternated pair, and the verdict on the median of their ratios. */
function pairLines(pairs: readonly TracingPair[]): boolean {
  const { ratios, median } = pairRatios(pairs);
  const ok = pairsFinished(pairs) && median >= 1 - TRACING_COST_TARGET;
  const cpuSum = (figures: Record<string, number>) => perThousand(SERVICES.reduce((sum, name) => sum + (figures[name] ?? NaN), 0), N).toFixed(2);
  say();
  say(`6. Tracing: ${pairs.length} alternated pairs of fresh phases on the same ${N} PRs (off then on, then on then off, …), OTLP to a receiver in the bench process`);
  say(SAMPLER_LINE);
  pairs.forEach((pair, i) => {
    say(
      `  pair ${i + 1}: off ${s(pair.off.pipelineMs)} s, on ${s(pair.on.pipelineMs)} s, on / off throughput ${(ratios[i]! * 100).toFixed(1)} %;` +
        ` ${pair.on.exported.spans.toLocaleString('en-US')} spans; CPU s per 1,000 PRs, four services summed, ${cpuSum(pair.off.cpuSeconds)} → ${cpuSum(pair.on.cpuSeconds)}` +
        (pair.on.finished && pair.off.finished ? '' : ' — TIMED OUT'),
    );
  });
  say(`  median throughput with tracing on: ${(median * 100).toFixed(1)} % of tracing off: ${verdict(ok)} (target within ${TRACING_COST_TARGET * 100} %)`);
  return ok;
}

/** Section 6: the traced run against the untraced one; true when its throughput is within the target. */
function tracingLines(traced: TracedFigures, untraced: { pipelineMs: number; finished: boolean; cpuSeconds: Record<string, number> }): boolean {
  const rate = (ms: number) => Math.round(N / (ms / 1000));
  const relative = untraced.pipelineMs / traced.pipelineMs;
  const ok = untraced.finished && traced.finished && relative >= 1 - TRACING_COST_TARGET;
  const cpu = (figures: Record<string, number>) => SERVICES.map((name) => `${name} ${perThousand(figures[name] ?? NaN, N).toFixed(2)}`).join(', ');
  say();
  say(`6. Tracing: the same ${N} PRs, fresh database and topics, services with OTEL_TRACES_EXPORTER=otlp to a receiver in the bench process`);
  say(SAMPLER_LINE);
  say(`  tracing off: ${s(untraced.pipelineMs)} s, ${rate(untraced.pipelineMs)} PRs/s`);
  say(`  tracing on:  ${s(traced.pipelineMs)} s, ${rate(traced.pipelineMs)} PRs/s${traced.finished ? '' : ' — TIMED OUT'}`);
  say(`  throughput with tracing on: ${(relative * 100).toFixed(1)} % of tracing off: ${verdict(ok)} (target within ${TRACING_COST_TARGET * 100} %)`);
  const { spans, requests, bytes } = traced.exported;
  say(`  exported: ${spans.toLocaleString('en-US')} spans (${(spans / N).toFixed(1)} per PR) in ${requests} OTLP requests, ${(bytes / 1e6).toFixed(1)} MB`);
  say(`  CPU seconds per 1,000 PRs, off: ${cpu(untraced.cpuSeconds)}`);
  say(`                             on:  ${cpu(traced.cpuSeconds)}`);
  say('  (two runs one after the other on a shared machine: a difference of a few per cent is within the noise of one pair)');
  return ok;
}

function stageTable(times: BatchTimes[]): void {
  const row = (label: string, values: number[]) => {
    const sp = spread(values);
    if (sp.count === 0) return;
    say(`  ${label.padEnd(58)} ${s(sp.median).padStart(7)} ${s(sp.p99).padStart(7)} ${s(sp.max).padStart(7)}   (${sp.count} batches)`);
  };
  const first = times.filter((t) => t.pass === 1);
  const later = times.filter((t) => t.pass >= 2);
  say(`  ${'per batch, seconds'.padEnd(58)} ${'median'.padStart(7)} ${'p99'.padStart(7)} ${'max'.padStart(7)}`);
  say(`  pass 1 (${first.length} batches, ${first.reduce((n, t) => n + t.requests, 0)} requests)`);
  row('oldest request ingested -> batch formed (waiting, linger)', first.map((t) => t.created - (t.oldestIngested ?? NaN)));
  row('batch formed -> submitted (JSONL, upload, create)', first.map((t) => t.submitted - t.created));
  row('submitted -> provider completed (provider time)', first.map((t) => (t.providerCompleted ?? NaN) - t.submitted));
  row('provider completed -> poller finished (notice, download, parse)', first.map((t) => t.finished - (t.providerCompleted ?? NaN)));
  row('poller finished -> last ResultsMerged of the batch', first.map((t) => (t.lastMerged ?? NaN) - t.finished));
  if (later.length > 0) {
    say(`  pass 2+ (${later.length} batches, ${later.reduce((n, t) => n + t.requests, 0)} requests)`);
    row('previous batch finished -> last failure recorded (retry)', later.map((t) => (t.lastFailureRecorded ?? NaN) - (t.previousFinished ?? NaN)));
    row('last failure recorded -> retry batch formed (linger)', later.map((t) => t.created - (t.lastFailureRecorded ?? NaN)));
    row('batch formed -> submitted', later.map((t) => t.submitted - t.created));
    row('submitted -> provider completed (provider time)', later.map((t) => (t.providerCompleted ?? NaN) - t.submitted));
    row('provider completed -> poller finished', later.map((t) => t.finished - (t.providerCompleted ?? NaN)));
    row('poller finished -> last ResultsMerged of the batch', later.map((t) => (t.lastMerged ?? NaN) - t.finished));
  }
}

function costLines(cost: CostFigures, simulatorBilledUsd: number): { oracleOk: boolean; strongOk: boolean } {
  const per1k = (value: number) => usd((value / Math.max(cost.ingested, 1)) * 1000);
  const vsOracle = cost.oracleUsd > 0 ? cost.cascadeUsd / cost.oracleUsd - 1 : NaN;
  const vsStrong = cost.alwaysStrongUsd > 0 ? cost.cascadeUsd / cost.alwaysStrongUsd : NaN;
  const oracleOk = vsOracle <= 0.05;
  const strongOk = vsStrong < 0.4;
  say(`  ${cost.ingested} PRs ingested, ${cost.processable} processable (the rest excluded by the guards, never sent), ${cost.succeeded} answered:`);
  say(`    ${cost.answeredByCheap} by ${CHEAP_MODEL}, ${cost.answeredByStrong} by ${STRONG_MODEL}`);
  say(`  failed ${CHEAP_MODEL} attempts: ${cost.failedCheapAttempts.map((f) => `${f.count} ${f.code}`).join(', ') || 'none'}`);
  say(`  cost per 1,000 PRs ingested, billed basis (prices: ${CHEAP_MODEL} and ${STRONG_MODEL} from libs/groq-batch/src/cost.ts, batch prices):`);
  say(`    two-pass Cascade, billed (sum of batches.cost_usd)   ${per1k(cost.cascadeUsd)}`);
  say(`      = answered ${per1k(cost.answeredUsd)} + failed attempts ${per1k(cost.failedAttemptsUsd)} + estimated ${per1k(cost.estimatedUsd)} (${cost.estimatedLines} failed lines without usage, prompt only)`);
  const vsSimulator = simulatorBilledUsd > 0 ? cost.cascadeUsd / simulatorBilledUsd : NaN;
  say(`      the simulator billed ${per1k(simulatorBilledUsd)}: Cascade's figure is ${(vsSimulator * 100).toFixed(2)} % of it (the completion tokens of failed lines are unknowable)`);
  say(`    oracle (cheap where it answers, strong only where it fails) ${per1k(cost.oracleUsd)}   Cascade is ${vsOracle >= 0 ? '+' : ''}${(Math.abs(vsOracle) < 5e-5 ? 0 : vsOracle * 100).toFixed(2)} % vs the oracle: ${verdict(oracleOk)} (target within 5 %)`);
  say(`    always ${STRONG_MODEL}, billed                 ${per1k(cost.alwaysStrongUsd)}   Cascade is ${(vsStrong * 100).toFixed(1)} % of it: ${verdict(strongOk)} (target < 40 %)`);
  say(`      (always-strong: every first-pass line's prompt tokens, known or estimated, + ${cost.strongCompletionMean.toFixed(0)} completion tokens, the mean of the`);
  say(`       ${cost.strongCompletionSamples} answers ${STRONG_MODEL} gave in this run; pricing the cheap model's own tokens, reasoning included,`);
  say(`       at the strong price instead gives ${per1k(cost.alwaysStrongSameTokensUsd)}, the run report's figure)`);
  return { oracleOk, strongOk };
}

async function run(cleanups: Array<() => Promise<unknown>>): Promise<number> {
  const kafka = await ensureKafka(log);
  cleanups.push(() => kafka.stop());
  const postgres = await ensurePostgres(log);
  cleanups.push(() => postgres.stop());
  const stamp = Date.now().toString(36);
  const client = createKafka('cascade-bench', kafka.brokers.split(','));
  const admin = client.admin();
  await admin.connect();
  cleanups.push(async () => {
    // The bench's own topics only: everything under its per-run prefixes.
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(`bench-${stamp}`));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine }).catch(() => undefined);
    await admin.disconnect();
  });

  const main = await phaseSetup(postgres.url, `cascade_bench_${stamp}`, `bench-${stamp}.`, cleanups, flags['keep-db']);
  const prs = syntheticPrs({ count: N, seed: SEED });
  const messages = encodePrs(prs, main.prefix, `bench-${stamp}`);
  const payloadMb = messages.reduce((n, m) => n + m.value.length, 0) / 1e6;

  // 1. The floor, before anything else runs.
  log(`floor: producing and consuming ${N} messages (${payloadMb.toFixed(1)} MB) with bare kafkajs…`);
  const kafkaFloorFigures = await kafkaFloor(client, `bench-${stamp}-floor.pr.ingested.v1`, PARTITIONS, messages);
  log(`floor: inserting ${N} result-like rows, 1,000 per INSERT…`);
  const insertMs = await insertFloor(main.dataSource, N);
  const floorMs = kafkaFloorFigures.produceAndConsumeMs + insertMs;

  // 2. The pipeline: simulator at zero latency, four services from the build.
  const simulator = await startGroqSimulator({ seed: SEED, stageDelayMs: 0 });
  cleanups.push(() => simulator.stop());
  log(`Groq simulator at ${simulator.url} (no stage delay, no per-line delay, no rate cap)`);
  const services = await startServices(serviceEnv(main, kafka.brokers, simulator, { ...PIPELINE_SETTINGS, ...TRACING_OFF }), `${stamp}-pipeline`);
  cleanups.push(() => services.stop());
  log('four services ready; publishing…');
  const watch = new ProviderWatch(simulator);
  watch.start();
  const cpuBefore = machineCpu();
  const benchCpuBefore = process.cpuUsage();
  const servicesCpuBefore = services.figures();
  const databaseCpu = new BackendCpuWatch(main.dataSource, () => services.services.flatMap((service) => service.child.pid ?? []));
  await databaseCpu.start();
  const t0 = Date.now();
  const publishMs = await produce(client, topicName(Topic.PrIngested, main.prefix), messages);
  log(`published ${N} PRs in ${s(publishMs)} s`);
  const finished = await untilAllTerminal(main.dataSource, N, TIMEOUT_MS, (line) => log(`pipeline: ${line}`));
  const seenDone = Date.now();
  const cpuAfter = machineCpu();
  const benchCpu = process.cpuUsage(benchCpuBefore);
  await watch.stop();
  const report: ReconcileReport = await reconcile(main.dataSource.manager, { defaultStageDeadlineMs: 26 * 3_600_000, listLimit: 20 });
  const databaseCpuSeconds = await databaseCpu.stop();
  const peaks = await services.measure();
  await services.stop();
  const stats = simulator.stats();
  const times = await batchTimes(main.dataSource, watch.completedAt);
  const marks = await milestones(main.dataSource);
  const cost = await costFigures(main.dataSource, CHEAP_MODEL, STRONG_MODEL);
  const lastMerged = marks['last result merged'] ?? seenDone;
  const pipelineMs = lastMerged - t0;
  const storage = await storageFigures(main.dataSource);
  const published = await publishedFigures(main.dataSource);
  log('VACUUM FULL of the pipeline tables, for the bytes of the live rows…');
  await compactTables(main.dataSource, storage.tables);
  const compacted = await storageFigures(main.dataSource);
  const [{ autovacuum }] = await main.dataSource.query('SHOW autovacuum');
  const serviceCpu = cpuBetween(servicesCpuBefore, peaks);
  const scale = scaleFigures({ prs: N, pipelineMs, cpuSeconds: serviceCpu, tables: storage.tables, compactedTables: compacted.tables });

  // 2b. The same PRs with tracing on (before the poller phase changes the simulator's failure profile).
  let traced: TracedFigures | null = null;
  let pairs: TracingPair[] = [];
  if (flags.tracing) {
    const tracedInput = {
      postgresUrl: postgres.url,
      brokers: kafka.brokers,
      client,
      simulator,
      settings: PIPELINE_SETTINGS,
      sample: TRACING_SAMPLE,
      messages,
      stamp,
      timeoutMs: TIMEOUT_MS,
      keepDb: flags['keep-db'],
      cleanups,
      log,
    };
    if (TRACING_PAIRS > 1) pairs = await alternatedPairs(tracedInput, TRACING_PAIRS);
    else traced = await tracedPhase(tracedInput);
  }

  // 3. The poller on one 50,000-line output file: a second, fresh stack whose one batch holds them all.
  let pollerPhase: { peaks: Record<string, ServiceFigures | null>; lines: number; outputMb: number; batches: number; ok: boolean } | null = null;
  if (POLLER_LINES > 0) {
    const big = await phaseSetup(postgres.url, `cascade_bench_${stamp}_poller`, `bench-${stamp}-poller.`, cleanups, flags['keep-db']);
    // Every line succeeds, so the whole batch comes back in the output file.
    simulator.setProfile(CHEAP_MODEL, { failureRate: 0, serverErrorRate: 0 });
    const bigServices = await startServices(
      serviceEnv(big, kafka.brokers, simulator, {
        ...PIPELINE_SETTINGS,
        BATCH_MAX_LINES: String(POLLER_LINES),
        // Groq's ceiling: with the default prompt (about 4 kB a line) it holds about 47,000 lines, so the
        // largest batch the provider takes is cut by bytes and the rest forms a second one after the linger.
        BATCH_MAX_BYTES: String(PROVIDER_BATCH_LIMITS.groq.maxBytes),
        BATCH_LINGER_MS: String(POLLER_PHASE_LINGER_MS),
      }),
      `${stamp}-poller`,
    );
    cleanups.push(() => bigServices.stop());
    const options: SyntheticOptions = { count: POLLER_LINES, seed: SEED + 1, emptyBodyRate: 0, oversizedRate: 0, injectionRate: 0 };
    log(`poller phase: publishing ${POLLER_LINES} PRs for the largest batch the provider takes…`);
    await produce(client, topicName(Topic.PrIngested, big.prefix), encodePrs(syntheticPrs(options), big.prefix, `bench-${stamp}-poller`));
    const done = await untilAllTerminal(big.dataSource, POLLER_LINES, TIMEOUT_MS, (line) => log(`poller phase: ${line}`));
    const bigPeaks = await bigServices.measure();
    await bigServices.stop();
    const [batch] = await big.dataSource.query(
      `SELECT (SELECT count(*)::int FROM batches) AS batches, output_file_id AS output, request_count AS lines
         FROM batches ORDER BY request_count DESC LIMIT 1`,
    );
    let outputMb = NaN;
    if (batch.output) {
      const file = (await (await fetch(`${simulator.url}/openai/v1/files/${batch.output}`, { headers: { authorization: 'Bearer simulator-local-key' } })).json()) as { bytes: number };
      outputMb = file.bytes / 1e6;
    }
    pollerPhase = { peaks: bigPeaks, lines: batch.lines, outputMb, batches: batch.batches, ok: done };
  }

  // The summary.
  say('Cascade pipeline benchmark (npm run bench)');
  say(describeMachine(startedAt));
  const loadAtEnd = loadAverage();
  say(`load average (1, 5, 15 min, /proc/loadavg): at the start ${loadAtStart}, at the end ${loadAtEnd}`);
  say(`run: ${N} synthetic PRs (seed ${SEED}); services as separate processes; Groq simulator in the bench process, zero latency;`);
  say(`     Kafka ${kafka.brokers}, ${PARTITIONS} partitions per topic; PostgreSQL ${new URL(main.databaseUrl).host}`);
  say(`     service settings: ${Object.entries(PIPELINE_SETTINGS).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  say();
  say('1. Throughput against the floor');
  say(`  floor, Kafka: ${N} messages, ${payloadMb.toFixed(1)} MB, produced (500 per sendBatch, acks=all) and consumed by one bare kafkajs consumer`);
  say(`               at the same time: ${s(kafkaFloorFigures.produceAndConsumeMs)} s (producing alone took ${s(kafkaFloorFigures.produceMs)} s)`);
  say(`  floor, PostgreSQL: ${N} result-like rows, one multi-row INSERT per 1,000 rows: ${s(insertMs)} s`);
  say(`  floor total: ${s(floorMs)} s`);
  say(`  pipeline: first publish -> every id terminal (last ResultsMerged): ${s(pipelineMs)} s, ${Math.round(N / (pipelineMs / 1000))} PRs/s${finished ? '' : ' — TIMED OUT'}`);
  const ratio = pipelineMs / floorMs;
  say(`  ratio pipeline / floor: ${ratio.toFixed(2)}x  ${verdict(finished && ratio <= 3)} (target within 3x)`);
  say(
    `  reconcile: ${ledgerEquation(report)}; lost ${report.lost.length}; stranded ${report.stranded}; invariant ${report.invariantHolds ? 'holds' : 'BROKEN'}`,
  );
  say(`  simulator: ${stats.batchesCreated} batches, lines run ${Object.entries(stats.linesProcessed).map(([m, n]) => `${m} ${n}`).join(', ')}`);
  say('  timeline, seconds after the first publish:');
  say(`    ${'all PRs published'.padEnd(32)} ${s(publishMs).padStart(7)}`);
  for (const [label, at] of Object.entries(marks)) say(`    ${label.padEnd(32)} ${s(at === null ? null : at - t0).padStart(7)}`);
  const busy = (cpuAfter.busy - cpuBefore.busy) / (cpuAfter.total - cpuBefore.total);
  say(`  CPU while the pipeline ran (${s(seenDone - t0, 1)} s): machine ${(busy * 100).toFixed(0)} % busy over ${cpus().length} cores (broker and PostgreSQL included);`);
  const benchCpuSeconds = (benchCpu.user + benchCpu.system) / 1e6;
  say(
    `    CPU seconds from the first publish to the end: ${SERVICES.map((name) => `${name} ${serviceCpu[name]?.toFixed(1) ?? '?'}`).join(', ')};` +
      ` bench process with the simulator ${benchCpuSeconds.toFixed(1)}; PostgreSQL backends serving the services ${databaseCpuSeconds?.toFixed(1) ?? '?'}`,
  );
  say(`    (start-up before the first publish: ${SERVICES.map((name) => `${name} ${servicesCpuBefore[name]?.cpuSeconds.toFixed(1) ?? '?'}`).join(', ')})`);
  stageTable(times);
  say();
  say('2. Memory (VmHWM from /proc/<pid>/status, read before each service was stopped; then its live heap: a full collection');
  say('   through the V8 inspector, opened by SIGUSR1 on a port given with --inspect-port, and process.memoryUsage())');
  const memoryOk = memoryLines(`  during the ${N}-PR run:`, peaks);
  let pollerOk = true;
  if (pollerPhase) {
    say(`  largest batch ${pollerPhase.lines} lines of ${POLLER_LINES} PRs (BATCH_MAX_LINES=${POLLER_LINES}, BATCH_MAX_BYTES=${PROVIDER_BATCH_LIMITS.groq.maxBytes / 1e6} MB, Groq's ceiling; no failures): output file ${pollerPhase.outputMb.toFixed(1)} MB, ${pollerPhase.batches} batch(es)`);
    pollerOk = memoryLines('  peak RSS of each fresh service over that batch (the target applies to the poller):', pollerPhase.peaks, 'poller') && pollerPhase.ok;
  }
  say();
  say(`3. Cost, field failure profile (${CHEAP_MODEL}: ~4 % failures, 0.2 % transient 5xx)`);
  const costOk = costLines(cost, stats.billed.totalUsd);
  say();
  say('4. Latency added: provider marks the batch completed -> ResultsMerged of its last settled request');
  const added = times.filter((t) => t.providerCompleted !== null && t.lastMerged !== null).map((t) => t.lastMerged! - t.providerCompleted!);
  const sp = spread(added);
  say(`  over ${sp.count} batches: median ${s(sp.median)} s, p99 ${s(sp.p99)} s, max ${s(sp.max)} s`);
  say('  (completion seen by polling the simulator every 100 ms: figures may be up to 0.1 s short; provider time excluded)');
  say();
  say(`5. Cost with scale: the ${N}-PR run per PR (flat from one run size to another when the work scales linearly)`);
  scaleLines(scale, storage, compacted, stats, { inputBytes: payloadMb * 1e6, prefix: main.prefix, published }, floorMs, { bench: benchCpuSeconds, database: databaseCpuSeconds }, autovacuum);
  const tracingOk = pairs.length > 0 ? pairLines(pairs) : traced ? tracingLines(traced, { pipelineMs, finished, cpuSeconds: serviceCpu }) : null;
  say();
  say(
    `targets: throughput ${verdict(finished && ratio <= 3)}, memory ${verdict(memoryOk && pollerOk)}, cost vs oracle ${verdict(costOk.oracleOk)}, cost vs always-strong ${verdict(costOk.strongOk)}` +
      (tracingOk === null ? '' : `, tracing cost ${verdict(tracingOk)}`),
  );
  say();
  say('row of the scaling table in docs/benchmarks.md:');
  say(
    `| ${benchCommit()} | ${new Date(startedAt).toISOString().slice(0, 10)} | ${loadAtStart.split(' ')[0]} → ${loadAtEnd.split(' ')[0]} | ${N.toLocaleString('en-US')} | ${s(pipelineMs, 1)} s |` +
      ` ${scale.secondsPer1kPrs.toFixed(2)} s | ${Math.round(scale.bytesPerPr).toLocaleString('en-US')} / ${Math.round(scale.compactedBytesPerPr).toLocaleString('en-US')} | ${SERVICES.map((name) => scale.cpuSecondsPer1kPrs[name]?.toFixed(2) ?? '?').join(' / ')} |` +
      ` ${databaseCpuSeconds === null ? '?' : perThousand(databaseCpuSeconds, N).toFixed(2)} |`,
  );
  process.stdout.write(`\n${out.join('\n')}\n`);
  // Figures, not a test: a missed target is reported above; only a run that did not finish or broke the invariant fails.
  return report.invariantHolds && finished && (!pollerPhase || pollerPhase.ok) && (!traced || traced.finished) && pairsFinished(pairs) ? 0 : 1;
}

const cleanups: Array<() => Promise<unknown>> = [];
try {
  process.exitCode = await run(cleanups);
} catch (error) {
  log(`failed: ${(error as Error).stack ?? (error as Error).message}`);
  process.exitCode = 1;
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => log(`cleanup: ${(error as Error).message}`));
}
