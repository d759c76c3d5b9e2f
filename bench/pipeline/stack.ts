import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { arch, cpus, platform, totalmem } from 'node:os';
import { join } from 'node:path';
import { createEvent, type PrIngestedPayload, Topic } from '#contracts';
import { dropDatabase, EventPublisher, openDatabase } from '#platform';
import type { Kafka } from 'kafkajs';
import type { DataSource } from 'typeorm';
import { REPO_ROOT, type ServiceProcess, freePort, spawnService, stopService, waitReady } from '../../apps/cli/src/demo/local-stack.js';
import type { GroqSimulator } from '../../tools/groq-simulator/src/simulator.js';
import type { BenchMessage } from './floor.js';
import { inspectPortOption, type LiveHeap, liveHeapAfterFullGc } from './live-heap.js';
import { type ProcessFigures, processFigures } from './proc.js';

export const SERVICES = ['result-writer', 'retry-service', 'poller', 'batch-submitter'] as const;

/** Partitions of every pipeline topic in the benches. */
export const PARTITIONS = 6;

/** Settings the services run with in the benches (on top of their defaults); printed with the figures. */
export function pipelineSettings(batchLines: number): Record<string, string> {
  return {
    LOG_LEVEL: 'warn',
    BATCH_MAX_LINES: String(batchLines),
    BATCH_LINGER_MS: '1000',
    BATCH_ASSEMBLE_INTERVAL_MS: '200',
    POLL_FIRST_DELAY_MS: '200',
    POLL_MAX_DELAY_MS: '1000',
    POLL_TICK_MS: '100',
    OUTBOX_POLL_MS: '100',
    KAFKA_PARTITIONS_CONSUMED_CONCURRENTLY: process.env.KAFKA_PARTITIONS_CONSUMED_CONCURRENTLY ?? '6',
  };
}

/** The commit the bench runs, and whether the checkout differs from it (Markdown aside: editing the figures' page while a run goes on changes nothing it runs). */
export function benchCommit(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', '.', ':(exclude)*.md'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    return dirty ? `${commit} (with uncommitted changes)` : commit;
  } catch {
    return 'unknown'; // not a git checkout
  }
}

/** The machine, the date the bench started and the commit it ran, for the head of its figures. */
export function describeMachine(startedAt: number): string {
  const cpu = cpus();
  return [
    `machine: ${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'}), ${(totalmem() / 1024 ** 3).toFixed(1)} GiB RAM, Node ${process.version}, ${platform()} ${arch()}`,
    `date: ${new Date(startedAt).toISOString()}   commit: ${benchCommit()}`,
  ].join('\n');
}

/** The machine's load average over 1, 5 and 15 minutes, as /proc/loadavg gives it (the machines this runs on are shared). */
export function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'unknown';
  }
}

/** `pr.ingested.v1` messages as upstream would publish them (key, value and headers). */
export function encodePrs(prs: PrIngestedPayload[], prefix: string, tag: string): BenchMessage[] {
  // Encoding only: the publisher validates and serialises exactly as the services' publishers do.
  const encoder = new EventPublisher(null as unknown as Kafka, prefix);
  return prs.map((pr) => {
    const { key, value, headers } = encoder.encode(Topic.PrIngested, createEvent(Topic.PrIngested, pr, { correlationId: `${tag}-${pr.requestId}`, producer: 'cascade-bench' }));
    return { key, value, headers };
  });
}

/**
 * Waits until `expected` requests are recorded and none is pending or in flight; false on timeout. Every second it
 * counts the open requests only (through the status index); every request is counted, a scan of the whole table,
 * only when none is open or to log progress every 10 s. The bench's own query competes with the services for the
 * machine: at every 250 ms it was the second most frequent active statement sampled in pg_stat_activity (100,000
 * PRs), and the pipeline's time comes from the database's timestamps, not from when this loop notices the end.
 */
export async function untilAllTerminal(dataSource: DataSource, expected: number, timeoutMs: number, progress: (line: string) => void): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const openRequests = `SELECT count(*)::int FROM requests WHERE status IN ('pending', 'in_flight')`;
  let lastLog = 0;
  while (Date.now() < deadline) {
    const [{ open }] = await dataSource.query(`SELECT (${openRequests}) AS open`);
    const logNow = Date.now() - lastLog > 10_000;
    if (open === 0 || logNow) {
      // Both counts in one statement, one snapshot: no request can be ingested between them.
      const [row] = await dataSource.query(`SELECT (SELECT count(*)::int FROM requests) AS ingested, (${openRequests}) AS open`);
      if (row.ingested >= expected && row.open === 0) return true;
      if (logNow) {
        lastLog = Date.now();
        progress(`ingested ${row.ingested}/${expected}, not yet terminal ${row.open}`);
      }
    }
    await new Promise((done) => setTimeout(done, 1_000));
  }
  return false;
}

/** A fresh database and topic prefix for one stack of services. */
export interface Phase {
  dataSource: DataSource;
  databaseUrl: string;
  prefix: string;
}

/** Drops and recreates database `name` on the server of `localUrl`; the cleanup drops it again unless `keep`. */
export async function phaseSetup(localUrl: string, name: string, prefix: string, cleanups: Array<() => Promise<unknown>>, keep: boolean): Promise<Phase> {
  const url = new URL(localUrl);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  await dropDatabase(databaseUrl);
  const dataSource = await openDatabase(databaseUrl, 4);
  cleanups.push(async () => {
    await dataSource.destroy();
    if (!keep) await dropDatabase(databaseUrl);
  });
  return { dataSource, databaseUrl, prefix };
}

/** The environment of the four services of one phase, against the simulator. */
export function serviceEnv(phase: Phase, brokers: string, simulator: GroqSimulator, settings: Record<string, string>): NodeJS.ProcessEnv {
  return {
    ...process.env,
    KAFKA_BROKERS: brokers,
    KAFKA_TOPIC_PREFIX: phase.prefix,
    KAFKA_PARTITIONS: String(PARTITIONS),
    DATABASE_URL: phase.databaseUrl,
    GROQ_API_KEY: 'simulator-local-key',
    GROQ_BASE_URL: simulator.url,
    ...settings,
  };
}

export interface ServiceFigures extends ProcessFigures {
  /** After a full collection, taken once the peak and CPU time were read; null when the inspector did not answer. */
  liveHeap: LiveHeap | null;
}

export interface RunningServices {
  services: ServiceProcess[];
  /** Every live service's VmHWM and CPU time so far. */
  figures(): Record<string, ProcessFigures | null>;
  /**
   * {@link figures}, then each service's live heap after a full collection (after: the collection must not count
   * in the peak nor in the CPU time). Call it just before {@link stop}.
   */
  measure(): Promise<Record<string, ServiceFigures | null>>;
  /** Reads every service's VmHWM and CPU time (before stopping it: they die with the process), then stops them. */
  stop(): Promise<Record<string, ProcessFigures | null>>;
}

/**
 * The four services from the build, each a process of its own, logs under `.cascade/bench/logs/<phase>`. Each may
 * have its inspector opened on a port of its own, for its live heap (NODE_OPTIONS: the local stack spawns them).
 */
export async function startServices(env: NodeJS.ProcessEnv, phase: string): Promise<RunningServices> {
  const logDir = join(REPO_ROOT, '.cascade/bench/logs', phase);
  const services: ServiceProcess[] = [];
  const inspectPorts = new Map<string, number>();
  const live = (service: ServiceProcess) => service.child.pid !== undefined && service.child.exitCode === null;
  const figures = () => Object.fromEntries(services.map((service) => [service.name, live(service) ? processFigures(service.child.pid!) : null]));
  const measure = async () => {
    const peaks = figures();
    const measured: Record<string, ServiceFigures | null> = {};
    for (const service of services) {
      const peak = peaks[service.name];
      if (!peak) {
        measured[service.name] = null;
        continue;
      }
      const liveHeap = await liveHeapAfterFullGc(service.child.pid!, inspectPorts.get(service.name)!).catch((error: Error) => {
        process.stderr.write(`${service.name}: no live heap (${error.message})\n`);
        return null;
      });
      measured[service.name] = { ...peak, liveHeap };
    }
    return measured;
  };
  let stopped: Record<string, ProcessFigures | null> | null = null;
  const stop = async () => {
    if (stopped) return stopped;
    const peaks = figures();
    for (const service of services) await stopService(service);
    stopped = peaks;
    return peaks;
  };
  try {
    for (const name of SERVICES) {
      const inspectPort = await freePort();
      inspectPorts.set(name, inspectPort);
      const nodeOptions = [env.NODE_OPTIONS, inspectPortOption(inspectPort)].filter(Boolean).join(' ');
      services.push(spawnService(name, { ...env, NODE_OPTIONS: nodeOptions }, await freePort(), logDir));
    }
    await Promise.all(services.map((service) => waitReady(service, 120_000)));
  } catch (error) {
    await stop();
    throw error;
  }
  return { services, figures, measure, stop };
}

/**
 * When the provider marked each batch completed, to about `intervalMs`: the simulator's own
 * `completed_at` is in whole seconds, too coarse for sub-second stages, so its batch list is polled.
 */
export class ProviderWatch {
  readonly completedAt = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(
    private readonly simulator: GroqSimulator,
    private readonly intervalMs = 100,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.poll(), this.intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.poll();
  }

  private async poll(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const response = await fetch(`${this.simulator.url}/openai/v1/batches`, { headers: { authorization: 'Bearer simulator-local-key' } });
      const now = Date.now();
      const list = (await response.json()) as { data: Array<{ id: string; status: string }> };
      for (const batch of list.data) {
        if (batch.status === 'completed' && !this.completedAt.has(batch.id)) this.completedAt.set(batch.id, now);
      }
    } catch {
      // the next tick tries again
    } finally {
      this.busy = false;
    }
  }
}
