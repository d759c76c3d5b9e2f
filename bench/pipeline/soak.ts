import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Topic } from '#contracts';
import { ledgerEquation, reconcile } from '#ledger';
import { createKafka, topicName } from '#platform';
import type { DataSource } from 'typeorm';
import { ensureKafka, ensurePostgres, REPO_ROOT, type ServiceProcess } from '../../apps/cli/src/demo/local-stack.js';
import { syntheticPrs } from '../../apps/cli/src/demo/synthetic-prs.js';
import { startGroqSimulator } from '../../tools/groq-simulator/src/simulator.js';
import { produce } from './floor.js';
import { describeMachine, encodePrs, loadAverage, phaseSetup, pipelineSettings, SERVICES, serviceEnv, startServices, untilAllTerminal } from './stack.js';

/**
 * `npm run bench:soak [-- --runs 10 --prs 2000]`: one stack (the four services, each a process of its own, one
 * database, the simulator) fed `--runs` successive runs of `--prs` fresh PRs (distinct ids), each run waited on
 * until every id is terminal. Retention is set in seconds and runs are `--pause-s` apart (by default just longer
 * than retention plus two sweeps), so each run finds the rows of the one before pruned: retention counts time, and
 * a run takes only seconds. After each run the rows and bytes of every table that can grow are printed, and at the
 * end whether the pruned tables stopped growing. Deleted rows only free their space for new ones once vacuumed: on a
 * server with autovacuum off, the soak VACUUMs the tables at the end of each pause in its place (unless `--no-vacuum`).
 * Prints figures; only a run that did not finish or a broken invariant fails.
 */
const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    prs: { type: 'string', default: '2000' },
    seed: { type: 'string', default: '42' },
    'batch-lines': { type: 'string', default: '1000' },
    'timeout-min': { type: 'string', default: '30' },
    'keep-db': { type: 'boolean', default: false },
    'no-vacuum': { type: 'boolean', default: false },
    'pause-s': { type: 'string' },
  },
});
const count = (name: string, value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be an integer ≥ 1, got "${value}"`);
  return n;
};
const RUNS = count('runs', flags.runs);
const PRS = count('prs', flags.prs);
const SEED = count('seed', flags.seed);
const TIMEOUT_MS = count('timeout-min', flags['timeout-min']) * 60_000;

/**
 * Retention in seconds rather than hours and days (18 s of outbox, 17.28 s of inbox ids) and a sweep every 2 s instead
 * of 10 min, so that runs of a few seconds see rows pruned. Overridable from the environment.
 */
const RETENTION_SETTINGS: Record<string, string> = {
  OUTBOX_RETENTION_HOURS: process.env.OUTBOX_RETENTION_HOURS ?? '0.005',
  INBOX_RETENTION_DAYS: process.env.INBOX_RETENTION_DAYS ?? '0.0002',
  RETENTION_SWEEP_MS: process.env.RETENTION_SWEEP_MS ?? '2000',
};
const SETTINGS = { ...pipelineSettings(count('batch-lines', flags['batch-lines'])), ...RETENTION_SETTINGS };
const RETENTION_MS = Math.max(Number(RETENTION_SETTINGS.OUTBOX_RETENTION_HOURS) * 3_600_000, Number(RETENTION_SETTINGS.INBOX_RETENTION_DAYS) * 86_400_000);
const PAUSE_MS = flags['pause-s'] === undefined ? Math.ceil((RETENTION_MS + 2 * Number(RETENTION_SETTINGS.RETENTION_SWEEP_MS)) / 1000) * 1000 : Number(flags['pause-s']) * 1000;
if (!Number.isFinite(PAUSE_MS) || PAUSE_MS < 0) throw new Error(`--pause-s must be a number of seconds ≥ 0, got "${flags['pause-s']}"`);

/** The tables the retention sweep prunes: they must stop growing. */
const PRUNED_TABLES = ['outbox', 'processed_events'] as const;
/** The tables that hold the record of the work: they grow with it, by design. */
const RECORD_TABLES = ['requests', 'request_inputs', 'results', 'attempts', 'batches', 'batch_items', 'dead_letters', 'stray_provider_batches'] as const;
const TABLES = [...PRUNED_TABLES, ...RECORD_TABLES];
/** The second half's largest size may exceed the first half's by this much (noise) and still count as not growing. */
const NOISE = 0.1;

const startedAt = Date.now();
const log = (line: string) => process.stderr.write(`[soak +${((Date.now() - startedAt) / 1000).toFixed(0)}s] ${line}\n`);
const say = (line = '') => process.stdout.write(`${line}\n`);
const thousands = (n: number) => n.toLocaleString('en-US');
const mb = (bytes: number) => (bytes / 1e6).toFixed(2);

interface TableSize {
  rows: number;
  bytes: number;
}

interface RunFigures {
  run: number;
  prsSoFar: number;
  wallMs: number;
  sizes: Record<string, TableSize>;
  /** Rows the services' retention sweeps deleted since they started, from their /metrics. */
  pruned: Record<string, number>;
}

/** Exact rows and `pg_total_relation_size` (heap, indexes, TOAST) of every table that can grow. */
async function tableSizes(dataSource: DataSource): Promise<Record<string, TableSize>> {
  const sizes: Record<string, TableSize> = {};
  for (const table of TABLES) {
    const [row] = await dataSource.query(`SELECT count(*)::float8 AS rows, pg_total_relation_size('${table}')::float8 AS bytes FROM ${table}`);
    sizes[table] = { rows: Number(row.rows), bytes: Number(row.bytes) };
  }
  return sizes;
}

/** `cascade_retention_deleted_total{table}` summed over the services. */
async function prunedSoFar(services: ServiceProcess[]): Promise<Record<string, number>> {
  const pruned: Record<string, number> = Object.fromEntries(PRUNED_TABLES.map((table) => [table, 0]));
  for (const service of services) {
    const text = await (await fetch(`http://127.0.0.1:${service.port}/metrics`)).text();
    for (const [, labels, value] of text.matchAll(/^cascade_retention_deleted_total\{([^}]*)\} (\d+)$/gm)) {
      const table = /table="([a-z_]+)"/.exec(labels!)?.[1];
      if (table) pruned[table] = (pruned[table] ?? 0) + Number(value);
    }
  }
  return pruned;
}

function header(): void {
  say(`| run | PRs so far | wall time | ${TABLES.map((table) => `${table} rows / MB`).join(' | ')} | pruned so far: ${PRUNED_TABLES.join(' / ')} |`);
  say(`|---:|---:|---:|${TABLES.map(() => '---:').join('|')}|---:|`);
}

function row(figures: RunFigures): void {
  const cells = TABLES.map((table) => `${thousands(figures.sizes[table]!.rows)} / ${mb(figures.sizes[table]!.bytes)}`);
  const pruned = PRUNED_TABLES.map((table) => thousands(figures.pruned[table] ?? 0)).join(' / ');
  say(`| ${figures.run} | ${thousands(figures.prsSoFar)} | ${(figures.wallMs / 1000).toFixed(1)} s | ${cells.join(' | ')} | ${pruned} |`);
}

/** Largest rows and bytes of the first and the last half of the runs, and whether the second stayed within the first. */
function growth(runs: RunFigures[], table: string): { line: string; bounded: boolean } {
  const half = Math.floor(runs.length / 2);
  const first = runs.slice(0, half).map((r) => r.sizes[table]!);
  const last = runs.slice(runs.length - half).map((r) => r.sizes[table]!);
  const max = (sizes: TableSize[], key: keyof TableSize) => Math.max(...sizes.map((s) => s[key]));
  const ratio = (key: keyof TableSize) => max(last, key) / Math.max(max(first, key), 1);
  const bounded = ratio('rows') <= 1 + NOISE && ratio('bytes') <= 1 + NOISE;
  const line =
    `${table}: max of runs 1–${half} ${thousands(max(first, 'rows'))} rows / ${mb(max(first, 'bytes'))} MB, ` +
    `of runs ${runs.length - half + 1}–${runs.length} ${thousands(max(last, 'rows'))} rows / ${mb(max(last, 'bytes'))} MB ` +
    `(x${ratio('rows').toFixed(2)} rows, x${ratio('bytes').toFixed(2)} bytes)`;
  return { line, bounded };
}

/** The services' boot warnings about topics that keep messages longer than the inbox keeps ids. */
function retentionWarnings(logDir: string): string[] {
  const warnings = new Set<string>();
  for (const name of SERVICES) {
    for (const line of readFileSync(join(logDir, `${name}.log`), 'utf8').split('\n')) {
      if (!line.includes('"component":"retention"') || !line.includes('keeps messages')) continue;
      warnings.add(`${name}: ${(JSON.parse(line) as { msg: string }).msg}`);
    }
  }
  return [...warnings];
}

async function soak(cleanups: Array<() => Promise<unknown>>): Promise<number> {
  const kafka = await ensureKafka(log);
  cleanups.push(() => kafka.stop());
  const postgres = await ensurePostgres(log);
  cleanups.push(() => postgres.stop());
  const stamp = Date.now().toString(36);
  const prefix = `soak-${stamp}.`;
  const client = createKafka('cascade-bench-soak', kafka.brokers.split(','));
  const admin = client.admin();
  await admin.connect();
  cleanups.push(async () => {
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine }).catch(() => undefined);
    await admin.disconnect();
  });

  const phase = await phaseSetup(postgres.url, `cascade_soak_${stamp}`, prefix, cleanups, flags['keep-db']);
  const simulator = await startGroqSimulator({ seed: SEED, stageDelayMs: 0 });
  cleanups.push(() => simulator.stop());
  const logPhase = `${stamp}-soak`;
  const services = await startServices(serviceEnv(phase, kafka.brokers, simulator, SETTINGS), logPhase);
  cleanups.push(() => services.stop());
  const [{ autovacuum }] = await phase.dataSource.query('SHOW autovacuum');
  const vacuum = autovacuum !== 'on' && !flags['no-vacuum'];
  // Every run's PRs come from one generated sequence: distinct ids from run to run.
  const prs = syntheticPrs({ count: RUNS * PRS, seed: SEED });

  say('Cascade soak: bounded tables (npm run bench:soak)');
  say(describeMachine(startedAt));
  say(`soak: ${RUNS} runs of ${PRS} fresh synthetic PRs (seed ${SEED}) through one stack: four service processes, one database, Groq simulator at zero latency;`);
  say(`      Kafka ${kafka.brokers}; PostgreSQL ${new URL(phase.databaseUrl).host}`);
  say(`      service settings: ${Object.entries(SETTINGS).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  say(
    `      PostgreSQL autovacuum=${autovacuum}` +
      (vacuum ? `: the soak runs VACUUM ${TABLES.join(', ')} at the end of each pause in its place` : autovacuum === 'on' ? '' : ' and no VACUUM (--no-vacuum): deleted rows never free their space'),
  );
  say(`      runs ${PAUSE_MS / 1000} s apart (retention ${RETENTION_MS / 1000} s + two sweeps): each run finds the rows of the one before past retention`);
  say('      wall time: first publish of the run -> every id of the run seen terminal (polled every 250 ms); rows: count(*); MB: pg_total_relation_size / 10^6');
  say();
  header();
  const runs: RunFigures[] = [];
  for (let run = 1; run <= RUNS; run++) {
    const messages = encodePrs(prs.slice((run - 1) * PRS, run * PRS), prefix, `soak-${stamp}-run${run}`);
    log(`run ${run}: publishing ${PRS} PRs…`);
    const t0 = Date.now();
    await produce(client, topicName(Topic.PrIngested, prefix), messages);
    const done = await untilAllTerminal(phase.dataSource, run * PRS, TIMEOUT_MS, (line) => log(`run ${run}: ${line}`));
    const wallMs = Date.now() - t0;
    if (!done) {
      say(`| ${run} | ${thousands(run * PRS)} | TIMED OUT after ${(wallMs / 1000).toFixed(0)} s |`);
      return 1;
    }
    const figures: RunFigures = { run, prsSoFar: run * PRS, wallMs, sizes: await tableSizes(phase.dataSource), pruned: await prunedSoFar(services.services) };
    runs.push(figures);
    row(figures);
    if (run === RUNS) break;
    await new Promise((wake) => setTimeout(wake, PAUSE_MS));
    // What autovacuum would have done while the stack was idle.
    if (vacuum) await phase.dataSource.query(`VACUUM ${TABLES.join(', ')}`);
  }

  const report = await reconcile(phase.dataSource.manager, { defaultStageDeadlineMs: 26 * 3_600_000, listLimit: 20 });
  say();
  say(`reconcile after ${thousands(RUNS * PRS)} PRs: ${ledgerEquation(report)}; lost ${report.lost.length}; stranded ${report.stranded}; invariant ${report.invariantHolds ? 'holds' : 'BROKEN'}`);
  say(`load average at the end: ${loadAverage()}`);
  if (runs.length >= 2) {
    say(`pruned tables (stopped growing when the last runs' largest rows and bytes are within ${NOISE * 100} % of the first runs'):`);
    for (const table of PRUNED_TABLES) {
      const { line, bounded } = growth(runs, table);
      say(`  ${line}: ${bounded ? 'stopped growing' : 'STILL GROWING'}`);
    }
    say('tables that hold the record grow with the work, as expected (each run adds its requests, results, attempts and batches):');
    for (const table of RECORD_TABLES) say(`  ${growth(runs, table).line}`);
  }
  const warnings = retentionWarnings(join(REPO_ROOT, '.cascade/bench/logs', logPhase));
  say(`boot warnings about topics that outlive the inbox (INBOX_RETENTION_DAYS=${RETENTION_SETTINGS.INBOX_RETENTION_DAYS}): ${warnings.length}`);
  for (const warning of warnings) say(`  ${warning}`);
  return report.invariantHolds ? 0 : 1;
}

const cleanups: Array<() => Promise<unknown>> = [];
try {
  process.exitCode = await soak(cleanups);
} catch (error) {
  log(`failed: ${(error as Error).stack ?? (error as Error).message}`);
  process.exitCode = 1;
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => log(`cleanup: ${(error as Error).message}`));
}
