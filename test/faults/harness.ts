import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { anthropicCustomId } from '#anthropic-batch';
import { createEvent, type PrIngestedPayload, Topic } from '#contracts';
import type { SweepReport } from '#batching';
import type { ReconcileReport } from '#ledger';
import { consumerGroupOf } from '#platform';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import pg from 'pg';
import { syntheticPrs } from '../../apps/cli/src/demo/synthetic-prs.js';
import { type GroqSimulator, type SimulatorStats, startGroqSimulator } from '../../tools/groq-simulator/src/simulator.js';
import type { SimulatorOptions } from '../../tools/groq-simulator/src/options.js';
import { type OpenAiSimulator, startOpenAiSimulator } from '../../tools/openai-simulator/src/simulator.js';
import { type AnthropicSimulator, startAnthropicSimulator } from '../../tools/anthropic-simulator/src/simulator.js';
import type { AnthropicSimulatorOptions } from '../../tools/anthropic-simulator/src/options.js';
import { brokers as defaultBrokers, createTestDatabase, eventually, freePort, type TestDatabase, uniqueSuffix } from '../support/infra.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const SERVICES = ['result-writer', 'retry-service', 'poller', 'batch-submitter'] as const;
export type ServiceName = (typeof SERVICES)[number];

/** The secrets every scenario runs with; the security check scans all output for them. */
export const GROQ_KEY = 'fake-fault-suite-groq-key-7f3a9c';
export const OPENAI_KEY = 'fake-fault-suite-openai-key-2c91d4';
export const ANTHROPIC_KEY = 'fake-fault-suite-anthropic-key-e5a017';
export const OPS_TOKEN = 'fault-suite-ops-token-0b8d2e61';
/** Every secret above: none may appear in any output of a scenario. */
export const FAULT_SECRETS = [GROQ_KEY, OPENAI_KEY, ANTHROPIC_KEY, OPS_TOKEN] as const;

export type ProviderName = 'groq' | 'openai' | 'anthropic';

/**
 * The chains the fault suite runs on: each provider alone (a cheap model, then a strong one of the same
 * provider) and one chain across all three. `groq` is the services' default MODEL_CHAIN.
 */
export const FAULT_CHAINS = {
  groq: ['openai/gpt-oss-20b', 'llama-3.3-70b-versatile'],
  openai: ['openai:gpt-4.1-mini', 'openai:gpt-4.1'],
  anthropic: ['anthropic:claude-haiku-4-5', 'anthropic:claude-sonnet-4-5'],
  cross: ['groq:openai/gpt-oss-20b', 'openai:gpt-4.1-mini', 'anthropic:claude-sonnet-4-5'],
} as const satisfies Record<string, readonly string[]>;
export type FaultChain = keyof typeof FAULT_CHAINS;

/** The providers a chain's models are on, in chain order. */
export function providersOfChain(chain: FaultChain): ProviderName[] {
  return [...new Set(FAULT_CHAINS[chain].map((model) => (/^(openai|anthropic):/.exec(model)?.[1] ?? 'groq') as ProviderName))];
}

/** `{ TIMEOUT_MS: '3000' }` → `GROQ_TIMEOUT_MS`, `OPENAI_TIMEOUT_MS`, … for each provider of the chain. */
export function perProvider(chain: FaultChain, settings: Record<string, string>): Record<string, string> {
  return Object.fromEntries(providersOfChain(chain).flatMap((provider) => Object.entries(settings).map(([name, value]) => [`${provider.toUpperCase()}_${name}`, value])));
}

/** The simulators' route keys (`stats().calls`, `rateLimitRoute`) for the calls the scenarios count. */
export const PROVIDER_ROUTES: Record<ProviderName, { create: string; list: string; cancel: string; results: string }> = {
  groq: { create: 'POST /openai/v1/batches', list: 'GET /openai/v1/batches', cancel: 'POST /openai/v1/batches/{id}/cancel', results: 'GET /openai/v1/files/{id}/content' },
  openai: { create: 'POST /v1/batches', list: 'GET /v1/batches', cancel: 'POST /v1/batches/{id}/cancel', results: 'GET /v1/files/{id}/content' },
  anthropic: {
    create: 'POST /v1/messages/batches',
    list: 'GET /v1/messages/batches',
    cancel: 'POST /v1/messages/batches/{id}/cancel',
    results: 'GET /v1/messages/batches/{id}/results',
  },
};

/** The simulators a stack runs, one per provider of its chain. */
export interface StackSimulators {
  groq?: GroqSimulator;
  openai?: OpenAiSimulator;
  anthropic?: AnthropicSimulator;
}

/** PRs per scenario: a few thousand by default, fewer in CI (CASCADE_FAULT_PRS). */
export const FAULT_PRS = Number(process.env.CASCADE_FAULT_PRS ?? (process.env.CI ? 600 : 2_000));

export interface FaultStackOptions {
  seed: number;
  /** The MODEL_CHAIN to run (default `groq`); a simulator is started for each of its providers. */
  chain?: FaultChain;
  /** Extra environment for every service. */
  env?: Record<string, string>;
  /** Environment for the first process of one service only (e.g. a crash point). */
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  replicas?: number;
  brokers?: string;
  databaseUrl: string;
  /** Options of the Groq and OpenAI simulators (the same simulator, two APIs). */
  simulator?: Partial<SimulatorOptions>;
  anthropicSimulator?: Partial<AnthropicSimulatorOptions>;
}

interface Managed {
  key: string;
  name: ServiceName;
  env: NodeJS.ProcessEnv;
  port: number;
  child: ChildProcess;
  /** Restart by itself when killed by a crash point (the restart runs without the crash point). */
  autoRestart: boolean;
  restarts: number;
  stopping: boolean;
}

/**
 * The four services as processes of their own (from the build), on a broker, a database and a simulator
 * per provider of the chain, with what the fault scenarios need: kill -9 and restart any of them, crash
 * points, replicas, every line of output kept for the security scan, and the end-of-run verification
 * across every simulator.
 */
export class FaultStack {
  readonly prefix = `faults${uniqueSuffix()}.`;
  readonly output: string[] = [];
  readonly processes = new Map<string, Managed>();
  readonly logDir: string;
  readonly chain: FaultChain;
  readonly sims: StackSimulators = {};
  private brokersList: string;

  private constructor(private readonly options: FaultStackOptions) {
    this.chain = options.chain ?? 'groq';
    this.brokersList = options.brokers ?? defaultBrokers().join(',');
    this.logDir = join(ROOT, '.cascade/test-logs', this.prefix);
    mkdirSync(this.logDir, { recursive: true });
  }

  static async start(options: FaultStackOptions): Promise<FaultStack> {
    const stack = new FaultStack(options);
    try {
      // One seed per stack, a different stream per provider; the same stage delay on each.
      const providers = providersOfChain(stack.chain);
      if (providers.includes('groq')) stack.sims.groq = await startGroqSimulator({ seed: options.seed, stageDelayMs: 100, ...options.simulator });
      if (providers.includes('openai')) stack.sims.openai = await startOpenAiSimulator({ seed: options.seed + 1, stageDelayMs: 100, ...options.simulator });
      if (providers.includes('anthropic')) stack.sims.anthropic = await startAnthropicSimulator({ seed: options.seed + 2, stageDelayMs: 100, ...options.anthropicSimulator });
      for (let replica = 0; replica < (options.replicas ?? 1); replica++) {
        for (const name of SERVICES) {
          const own = replica === 0 ? (options.serviceEnv?.[name] ?? {}) : {};
          await stack.spawn(`${name}#${replica}`, name, { ...stack.baseEnv(), ...own }, Object.keys(own).length > 0);
        }
      }
      await Promise.all([...stack.processes.values()].map((p) => stack.waitReady(p)));
    } catch (error) {
      // The caller never gets the stack to stop: stop what was started here, or it outlives the test.
      await stack.stop();
      throw error;
    }
    return stack;
  }

  /** The Groq simulator (a chain with a Groq model). */
  get sim(): GroqSimulator {
    if (!this.sims.groq) throw new Error(`the ${this.chain} chain runs no Groq simulator`);
    return this.sims.groq;
  }

  /** Every simulator of the stack, by provider. */
  simulators(): Array<{ provider: ProviderName; stats: () => SimulatorStats }> {
    return (Object.entries(this.sims) as Array<[ProviderName, GroqSimulator | AnthropicSimulator]>).map(([provider, sim]) => ({ provider, stats: () => sim.stats() }));
  }

  /** Each provider's key, base URL and MODEL_CHAIN, as the services and the CLI read them. */
  providerEnv(): Record<string, string> {
    const { groq, openai, anthropic } = this.sims;
    return {
      ...(this.chain === 'groq' ? {} : { MODEL_CHAIN: FAULT_CHAINS[this.chain].join(',') }),
      ...(groq ? { GROQ_API_KEY: GROQ_KEY, GROQ_BASE_URL: groq.url, GROQ_TIMEOUT_MS: '10000' } : {}),
      ...(openai ? { OPENAI_API_KEY: OPENAI_KEY, OPENAI_BASE_URL: openai.baseURL, OPENAI_TIMEOUT_MS: '10000' } : {}),
      ...(anthropic ? { ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: anthropic.url, ANTHROPIC_TIMEOUT_MS: '10000' } : {}),
    };
  }

  baseEnv(): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH,
      KAFKA_BROKERS: this.brokersList,
      KAFKA_TOPIC_PREFIX: this.prefix,
      KAFKA_PARTITIONS: '3',
      DATABASE_URL: this.options.databaseUrl,
      DATABASE_POOL_SIZE: '4',
      ...this.providerEnv(),
      OPS_TOKEN,
      LOG_LEVEL: 'info',
      BATCH_MAX_LINES: '150',
      BATCH_LINGER_MS: '400',
      BATCH_ASSEMBLE_INTERVAL_MS: '200',
      POLL_TICK_MS: '200',
      POLL_FIRST_DELAY_MS: '200',
      POLL_MAX_DELAY_MS: '1000',
      // A killed process's leases must expire within the scenario.
      POLL_LEASE_MS: '4000',
      SUBMIT_LEASE_MS: '4000',
      // A failed submission is tried again within the scenario, and a fault storm does not hold it.
      SUBMIT_RETRY_BASE_MS: '200',
      SUBMIT_RETRY_MAX_MS: '2000',
      SUBMIT_MAX_ATTEMPTS: '30',
      OUTBOX_POLL_MS: '100',
      // A killed member leaves the group after this; its replacement waits for that before consuming.
      KAFKA_SESSION_TIMEOUT_MS: '10000',
      ...this.options.env,
    };
  }

  /** A port no other process of this stack holds or is about to bind (a child binds only once it boots). */
  private async port(): Promise<number> {
    const taken = new Set([...this.processes.values()].map((p) => p.port));
    for (;;) {
      const port = await freePort();
      if (!taken.has(port)) return port;
    }
  }

  private async spawn(key: string, name: ServiceName, env: NodeJS.ProcessEnv, autoRestart: boolean): Promise<Managed> {
    const port = this.processes.get(key)?.port ?? (await this.port());
    const child = spawn(process.execPath, [join(ROOT, `dist/apps/${name}/src/main.js`)], {
      cwd: ROOT,
      env: { ...env, HTTP_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const managed: Managed = {
      key,
      name,
      env,
      port,
      child,
      autoRestart,
      restarts: this.processes.get(key)?.restarts ?? 0,
      stopping: false,
    };
    const keep = (chunk: Buffer) => {
      const text = chunk.toString();
      this.output.push(text);
      appendFileSync(join(this.logDir, `${key}.log`), text);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.once('exit', (_code, signal) => {
      if (managed.stopping || signal !== 'SIGKILL' || !managed.autoRestart) return;
      // Killed by its crash point: come back, as an orchestrator would restart it.
      setTimeout(() => void this.respawn(managed), 300);
    });
    this.processes.set(key, managed);
    return managed;
  }

  /** Starts a killed process again, without its crash point (it has done its work). */
  private async respawn(managed: Managed): Promise<void> {
    const { CASCADE_CRASH_AT: _crash, ...env } = managed.env;
    const next = await this.spawn(managed.key, managed.name, env, false);
    next.restarts = managed.restarts + 1;
  }

  async waitReady(managed: Managed, timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const current = this.processes.get(managed.key)!;
      if (current.child.exitCode !== null) throw new Error(`${current.key} exited with ${current.child.exitCode}: ${this.tail(current.key)}`);
      try {
        if ((await fetch(`http://127.0.0.1:${current.port}/health/ready`)).ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`${managed.key} not ready after ${timeoutMs} ms: ${this.tail(managed.key)}`);
      await sleep(250);
    }
  }

  /** Until every running process answers /health/ready with a failure: each has seen `what` go away. */
  async waitAllUnready(what: string, timeoutMs = 30_000): Promise<void> {
    await eventually(`every service reports ${what} down`, async () => {
      const answers = await Promise.all([...this.processes.values()].map(async (p) => (await fetch(`http://127.0.0.1:${p.port}/health/ready`)).status));
      return answers.every((status) => status === 503);
    }, timeoutMs);
  }

  /**
   * kill -9, then (unless told not to) start it again after `restartAfterMs`, as a supervisor would.
   * Says what the kill hit: the process's own exit (a process already gone is not killed again).
   */
  async kill(key: string, options: { restartAfterMs?: number | null } = {}): Promise<KillRecord> {
    const managed = this.processes.get(key)!;
    managed.stopping = true;
    const { child } = managed;
    const wasRunning = child.exitCode === null && child.signalCode === null;
    const exited = wasRunning
      ? new Promise<NodeJS.Signals | null>((done) => child.once('exit', (_code, signal) => done(signal)))
      : Promise.resolve(null);
    if (wasRunning) child.kill('SIGKILL');
    const record: KillRecord = { key, pid: child.pid, wasRunning, signal: await exited, restartedPid: null };
    if (options.restartAfterMs === null) return record;
    await sleep(options.restartAfterMs ?? 500);
    await this.respawn(managed);
    return { ...record, restartedPid: this.processes.get(key)!.child.pid ?? null };
  }

  /** The consumer group of one service (the services' default: no KAFKA_GROUP_ID is set). */
  groupOf(name: ServiceName): string {
    return consumerGroupOf(name, this.prefix);
  }

  restarts(): number {
    return [...this.processes.values()].reduce((sum, p) => sum + p.restarts, 0);
  }

  /** The services' log records (JSON lines) whose message holds `message`, read from every process's log file. */
  logged(message: string): Array<Record<string, unknown>> {
    return readdirSync(this.logDir)
      .flatMap((file) => readFileSync(join(this.logDir, file), 'utf8').split('\n'))
      .filter((line) => line.includes(message))
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
  }

  /** The services' own record of crash points reached. */
  crashesAt(point: string): number {
    return this.output.join('').split(`at ${point} `).length - 1;
  }

  async publish(prs: PrIngestedPayload[], extra: Array<{ key: string; value: Buffer | string }> = []): Promise<void> {
    const kafka = new Kafka({ clientId: `faults-${uniqueSuffix()}`, brokers: this.brokersList.split(','), logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, retry: { retries: 20 } });
    await producer.connect();
    const topic = `${this.prefix}${Topic.PrIngested}`;
    const messages = [
      ...prs.map((pr) => ({ key: pr.requestId, value: JSON.stringify(createEvent(Topic.PrIngested, pr, { correlationId: `f-${pr.requestId}`, producer: 'fault-suite' })) })),
      ...extra,
    ];
    for (let i = 0; i < messages.length; i += 500) await producer.send({ topic, messages: messages.slice(i, i + 500) });
    await producer.disconnect();
  }

  prs(count = FAULT_PRS): PrIngestedPayload[] {
    return syntheticPrs({ count, seed: this.options.seed });
  }

  /** The built `cascade` command against this stack's broker, topics and database, as an operator runs it. */
  cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
    const result = spawnSync(process.execPath, [join(ROOT, 'bin/cascade.js'), ...args], {
      cwd: ROOT,
      env: { ...process.env, KAFKA_BROKERS: this.brokersList, KAFKA_TOPIC_PREFIX: this.prefix, DATABASE_URL: this.options.databaseUrl, ...this.providerEnv() },
      encoding: 'utf8',
      timeout: 300_000,
    });
    this.output.push(result.stdout, result.stderr);
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  /**
   * `cascade reconcile --provider --json`: the provider sweep of every provider of the chain, then the
   * ledger. Run without blocking, since the simulators it reads live in this process.
   */
  async sweep(): Promise<{ status: number; report: (ReconcileReport & { provider?: SweepReport }) | null; stderr: string }> {
    const result = await new Promise<{ status: number; stdout: string; stderr: string }>((done) =>
      execFile(
        process.execPath,
        [join(ROOT, 'bin/cascade.js'), 'reconcile', '--provider', '--json', '--deadline-ms', '600000'],
        {
          cwd: ROOT,
          env: { ...process.env, KAFKA_BROKERS: this.brokersList, KAFKA_TOPIC_PREFIX: this.prefix, DATABASE_URL: this.options.databaseUrl, ...this.providerEnv() },
          encoding: 'utf8',
          timeout: 300_000,
          maxBuffer: 64 * 1024 * 1024,
        },
        (error, stdout, stderr) => done({ status: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      ),
    );
    this.output.push(result.stdout, result.stderr);
    try {
      return { status: result.status, report: JSON.parse(result.stdout), stderr: result.stderr };
    } catch {
      return { status: result.status, report: null, stderr: result.stderr };
    }
  }

  /** `cascade reconcile --json`, as an operator runs it. */
  reconcile(): { status: number | null; report: ReconcileReport | null; stderr: string } {
    const result = this.cli('reconcile', '--json', '--deadline-ms', '600000');
    let report: ReconcileReport | null = null;
    try {
      report = JSON.parse(result.stdout) as ReconcileReport;
    } catch {
      // reported below by the caller
    }
    return { status: result.status, report, stderr: result.stderr };
  }

  /** Waits until `cascade reconcile` shows `expected` ids, none in flight. */
  async settle(expected: number, timeoutMs: number): Promise<ReconcileReport> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { report } = this.reconcile();
      if (report && report.ingested === expected && report.inFlight === 0) return report;
      if (Date.now() > deadline) {
        throw new Error(`not settled after ${timeoutMs} ms: ${JSON.stringify({ ingested: report?.ingested, inFlight: report?.inFlight, lost: report?.lost.length, stuck: report?.stuck })}`);
      }
      await sleep(2_000);
    }
  }

  /**
   * The promises, checked after a scenario: every id terminal with its record (reconcile exits 0),
   * one result per id, every provider batch recorded by us (none paid for twice), and no id sent to
   * the provider more often than its attempts justify.
   */
  async verify(expected: number, options: { deadLettered?: number } = {}): Promise<VerifySummary> {
    const { status, report, stderr } = this.reconcile();
    if (!report) throw new Error(`reconcile printed no report: ${stderr}`);
    const client = new pg.Client({ connectionString: this.options.databaseUrl });
    await client.connect();
    try {
      const [{ results, ids }] = (await client.query(`SELECT count(*)::int AS results, count(DISTINCT request_id)::int AS ids FROM results`)).rows;
      // Known to the database: recorded for a batch, or kept as a stray (handed over, cancelled, finished unused).
      const recorded = (
        await client.query(`SELECT provider_batch_id FROM batches WHERE provider_batch_id IS NOT NULL UNION SELECT provider_batch_id FROM stray_provider_batches`)
      ).rows.map((r) => r.provider_batch_id as string);
      const attempts = new Map<string, number>(
        // The provider sees a custom_id once per attempt of each prompt version it is analysed under.
        (await client.query(`SELECT request_id, sum(attempt)::int AS attempt FROM requests GROUP BY request_id`)).rows.map((r) => [r.request_id, r.attempt]),
      );
      // Every provider of the chain: an id's attempts are counted across all of them.
      const simulators = this.simulators().map((sim) => ({ ...sim, stats: sim.stats() }));
      const stats = simulators.map((sim) => sim.stats);
      const outcomes = stats.flatMap((s) => Object.entries(s.outcomes));
      // Anthropic's custom_id is `<batch key tag>-<digest of the request id>`: read back by the digest.
      const byDigest = new Map([...attempts.keys()].map((id) => [anthropicCustomId(ANY_BATCH_KEY, id).slice(TAG_AND_DASH), id]));
      const sentTimes = new Map<string, number>();
      // Lines a batch never ran (cancelled or expired before their turn) reached no model and cost nothing.
      for (const sim of simulators) {
        for (const byCustomId of Object.values(sim.stats.outcomes)) {
          for (const [customId, outcome] of Object.entries(byCustomId)) {
            const id = sim.provider === 'anthropic' ? (byDigest.get(customId.slice(TAG_AND_DASH)) ?? customId) : customId;
            if (!NOT_RUN.has(outcome)) sentTimes.set(id, (sentTimes.get(id) ?? 0) + 1);
          }
        }
      }
      const overSent = [...sentTimes].filter(([id, times]) => times > (attempts.get(id) ?? 0));
      const providerBatches = outcomes.map(([batchId]) => batchId);
      const unrecorded = providerBatches.filter((id) => !recorded.includes(id));
      return {
        reconcileExit: status,
        ingested: report.ingested,
        deadLettered: report.deadLettered,
        expectedDeadLettered: options.deadLettered ?? 0,
        inFlight: report.inFlight,
        lost: report.lost.length,
        stuck: report.stuck,
        invariantHolds: report.invariantHolds,
        expected,
        results,
        distinctResultIds: ids,
        providerBatches: providerBatches.length,
        batchesCreatedAtProvider: stats.reduce((sum, s) => sum + s.batchesCreated, 0),
        unrecordedProviderBatches: unrecorded,
        overSent: overSent.slice(0, 10),
      };
    } finally {
      await client.end();
    }
  }

  tail(key: string): string {
    return this.output.join('').slice(-1_500) + ` (logs in .cascade/test-logs/${this.prefix}${key}.log)`;
  }

  async stop(): Promise<void> {
    await Promise.all(
      [...this.processes.values()].map(async (managed) => {
        managed.stopping = true;
        if (managed.child.exitCode !== null || managed.child.signalCode !== null) return;
        const exited = new Promise((done) => managed.child.once('exit', done));
        managed.child.kill('SIGTERM');
        const timer = setTimeout(() => managed.child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(timer);
      }),
    );
    for (const sim of Object.values(this.sims)) await sim.stop();
  }
}

export interface KillRecord {
  key: string;
  pid: number | undefined;
  /** The process was running when killed (not already exited on its own). */
  wasRunning: boolean;
  /** The signal it died of: SIGKILL when the kill is what ended it. */
  signal: NodeJS.Signals | null;
  /** The process started in its place, if restarted. */
  restartedPid: number | null;
}

export interface VerifySummary {
  reconcileExit: number | null;
  ingested: number;
  deadLettered: number;
  expectedDeadLettered: number;
  inFlight: number;
  lost: number;
  stuck: number;
  invariantHolds: boolean;
  expected: number;
  results: number;
  distinctResultIds: number;
  providerBatches: number;
  batchesCreatedAtProvider: number;
  unrecordedProviderBatches: string[];
  overSent: Array<[string, number]>;
}

/** What every scenario must end with. */
export function expectNothingLost(summary: VerifySummary): void {
  expect(summary).toMatchObject({
    reconcileExit: 0,
    ingested: summary.expected + summary.expectedDeadLettered,
    deadLettered: summary.expectedDeadLettered,
    inFlight: 0,
    lost: 0,
    stuck: 0,
    invariantHolds: true,
    results: summary.expected,
    distinctResultIds: summary.expected,
    unrecordedProviderBatches: [],
    overSent: [],
  });
  expect(summary.batchesCreatedAtProvider).toBe(summary.providerBatches);
}

/**
 * Per test: a fresh database, and whatever stack the test starts stopped and dropped afterwards.
 * Call inside `describe`; the test sets `scenario.stack`.
 */
export function useScenario(): { readonly db: TestDatabase; stack: FaultStack | null } {
  const scenario: { db: TestDatabase; stack: FaultStack | null } = { db: null as unknown as TestDatabase, stack: null };
  beforeEach(async () => {
    scenario.db = await createTestDatabase();
  });
  afterEach(async () => {
    await scenario.stack?.stop();
    scenario.stack = null;
    await scenario.db?.drop();
  });
  return scenario;
}

const ANY_BATCH_KEY = `cascade-${'0'.repeat(40)}`;
const TAG_AND_DASH = 17;

/** Outcomes of lines a batch never ran: Groq's and OpenAI's, then Anthropic's. */
const NOT_RUN = new Set(['batch_cancelled', 'batch_expired', 'canceled', 'expired']);

export const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** A small seeded generator, so a failing seed can be replayed. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4_294_967_296;
  };
}
