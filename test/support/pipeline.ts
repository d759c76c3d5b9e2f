import type { BatchProviderPort } from '#batching';
import { createEvent, type PrIngestedPayload, Topic } from '#contracts';
import { promptRegistry } from '#groq-batch';
import { reconcile, type ReconcileReport } from '#ledger';
import type { RunningService } from '#platform';
import { Partitioners, type Producer } from 'kafkajs';
import type { SubmitterSettings } from '../../apps/batch-submitter/src/batch-submitter.settings.js';
import { type GroqSimulator, startGroqSimulator } from '../../tools/groq-simulator/src/simulator.js';
import type { SimulatorOptions } from '../../tools/groq-simulator/src/options.js';
import { type OpenAiSimulator, startOpenAiSimulator } from '../../tools/openai-simulator/src/simulator.js';
import { type AnthropicSimulator, startAnthropicSimulator } from '../../tools/anthropic-simulator/src/simulator.js';
import type { AnthropicSimulatorOptions } from '../../tools/anthropic-simulator/src/options.js';
import { waitForConsumed } from './consumption.js';
import { brokers, createTestDatabase, eventually, type TestDatabase, testKafka, uniqueSuffix } from './infra.js';

/** The four services in this process, against a real broker, a test database and a simulator; one topic prefix per test file. */
export interface Pipeline {
  services: Record<string, RunningService>;
  stop(): Promise<void>;
}

/** The batch-submitter's settings as the services run by default, for tests that call its rules directly. */
export const SUBMITTER_SETTINGS: SubmitterSettings = {
  promptVersion: 'pr-analysis-v1',
  prompts: promptRegistry(),
  guard: { maxBodyChars: 20_000, maxReviewChars: 2_000, maxReviews: 20 },
  modelChain: ['openai/gpt-oss-20b', 'llama-3.3-70b-versatile'],
  maxTokens: 1_024,
  cacheTtlHours: 720,
};

export const PIPELINE_SERVICES = ['batch-submitter', 'poller', 'retry-service', 'result-writer'] as const;
export type PipelineService = (typeof PIPELINE_SERVICES)[number];

export function pipelineEnv(options: { prefix: string; databaseUrl: string; groqUrl: string }, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    KAFKA_BROKERS: brokers().join(','),
    KAFKA_TOPIC_PREFIX: options.prefix,
    DATABASE_URL: options.databaseUrl,
    GROQ_BASE_URL: options.groqUrl,
    GROQ_API_KEY: 'fake-pipeline-test-key',
    HTTP_PORT: '0',
    LOG_LEVEL: process.env.CASCADE_TEST_LOG_LEVEL ?? 'error',
    BATCH_LINGER_MS: '300',
    BATCH_ASSEMBLE_INTERVAL_MS: '200',
    POLL_TICK_MS: '200',
    POLL_FIRST_DELAY_MS: '200',
    POLL_MAX_DELAY_MS: '1000',
    OUTBOX_POLL_MS: '100',
    KAFKA_PARTITIONS: '3',
    // A failed submission is tried again within a test's patience, and a fault storm does not hold it.
    SUBMIT_RETRY_BASE_MS: '200',
    SUBMIT_RETRY_MAX_MS: '2000',
    SUBMIT_MAX_ATTEMPTS: '30',
    ...extra,
  };
}

export async function startService(name: PipelineService, env: NodeJS.ProcessEnv, groupSuffix = ''): Promise<RunningService> {
  const { bootstrapService } = await import('#platform');
  const definitions = {
    'batch-submitter': async () => (await import('../../apps/batch-submitter/src/batch-submitter.definition.js')).batchSubmitterService,
    poller: async () => (await import('../../apps/poller/src/poller.definition.js')).pollerDefinition,
    'retry-service': async () => (await import('../../apps/retry-service/src/retry-service.definition.js')).retryServiceDefinition,
    'result-writer': async () => (await import('../../apps/result-writer/src/result-writer.definition.js')).resultWriterService,
  } as const;
  const definition = await definitions[name]();
  return bootstrapService(definition as never, {
    ...env,
    KAFKA_GROUP_ID: `${env.KAFKA_TOPIC_PREFIX}${name}${groupSuffix}`,
    KAFKA_CLIENT_ID: `${name}${groupSuffix}`,
  });
}

export async function startPipeline(env: NodeJS.ProcessEnv, replicas = 1): Promise<Pipeline> {
  const services: Record<string, RunningService> = {};
  for (let replica = 0; replica < replicas; replica++) {
    for (const name of PIPELINE_SERVICES) {
      services[replicas > 1 ? `${name}#${replica}` : name] = await startService(name, env);
    }
  }
  return {
    services,
    async stop() {
      for (const service of Object.values(services)) await service.app.close();
    },
  };
}

export interface PipelineFixtureOptions {
  /** Start of the topic prefix and of the correlation ids (`e2e` → topics `e2e1a2b3c4d.pr.ingested.v1`). */
  name: string;
  /** Start a simulator with these options (a seed at least); without it there is no provider. */
  simulator?: Partial<SimulatorOptions> & { seed: number };
  /** Also start OpenAI's simulator (the services get OPENAI_BASE_URL and a key). */
  openai?: Partial<Omit<SimulatorOptions, 'api'>> & { seed: number };
  /** Also start Anthropic's simulator (the services get ANTHROPIC_BASE_URL and a key). */
  anthropic?: Partial<AnthropicSimulatorOptions> & { seed: number };
  /** Start the four services in this process with this extra environment (needs `simulator`). */
  services?: { env?: Record<string, string>; replicas?: number };
}

export interface PipelineFixture {
  readonly prefix: string;
  readonly db: TestDatabase;
  readonly sim: GroqSimulator;
  readonly openaiSim: OpenAiSimulator;
  readonly anthropicSim: AnthropicSimulator;
  /** The four services started by the fixture (`services` option), else none. */
  readonly services: Record<string, RunningService>;
  /** The services' environment, with `extra` on top of the fixture's. */
  env(extra?: Record<string, string>): NodeJS.ProcessEnv;
  /** A service started by the test; the fixture closes it at the end unless the test did (`stopService`). */
  startService(name: PipelineService, extra?: Record<string, string>): Promise<RunningService>;
  stopService(service: RunningService): Promise<void>;
  topic(topic: Topic): string;
  /** A producer connected on first use, disconnected at the end. */
  producer(): Promise<Producer>;
  /** Publishes PRs on `pr.ingested.v1`, keyed by request id, correlation `<name>-<requestId>` unless given. */
  publish(prs: PrIngestedPayload[], correlationId?: (pr: PrIngestedPayload) => string): Promise<void>;
  /** Until `reconcile` counts `count` ids ingested and none in flight. */
  settled(count: number, timeoutMs: number): Promise<ReconcileReport>;
  /** Until every service's consumer group has committed its topics up to their end (lag 0). */
  waitForConsumed(timeoutMs?: number): Promise<void>;
  /** One provider batch per batch key, and no provider created a batch we did not record. */
  expectOneProviderBatchPerKey(): Promise<void>;
}

/**
 * One test file's pipeline: its own database (real migrations), topic prefix, simulator and services
 * in this process, torn down after the file. Call inside `describe`.
 */
export function usePipeline(options: PipelineFixtureOptions): PipelineFixture {
  const prefix = `${options.name}${uniqueSuffix()}.`;
  let db: TestDatabase | null = null;
  let sim: GroqSimulator | null = null;
  let openaiSim: OpenAiSimulator | null = null;
  let anthropicSim: AnthropicSimulator | null = null;
  let connected: Promise<Producer> | null = null;
  const started = new Set<RunningService>();
  const services: Record<string, RunningService> = {};
  const need = <T>(part: T | null, what: string): T => {
    if (part === null) throw new Error(`the pipeline fixture has no ${what}: start it in the fixture's options`);
    return part;
  };

  const fixture: PipelineFixture = {
    prefix,
    get db() {
      return need(db, 'database');
    },
    get sim() {
      return need(sim, 'simulator');
    },
    get openaiSim() {
      return need(openaiSim, 'OpenAI simulator');
    },
    get anthropicSim() {
      return need(anthropicSim, 'Anthropic simulator');
    },
    services,
    env: (extra = {}) =>
      pipelineEnv(
        { prefix, databaseUrl: fixture.db.url, groqUrl: fixture.sim.url },
        {
          ...(openaiSim ? { OPENAI_BASE_URL: openaiSim.baseURL, OPENAI_API_KEY: 'fake-pipeline-test-key' } : {}),
          ...(anthropicSim ? { ANTHROPIC_BASE_URL: anthropicSim.url, ANTHROPIC_API_KEY: 'fake-pipeline-test-key' } : {}),
          ...options.services?.env,
          ...extra,
        },
      ),
    async startService(name, extra) {
      const service = await startService(name, fixture.env(extra));
      started.add(service);
      return service;
    },
    async stopService(service) {
      started.delete(service);
      await service.app.close();
    },
    topic: (topic) => `${prefix}${topic}`,
    producer() {
      connected ??= (async () => {
        const producer = testKafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
        await producer.connect();
        return producer;
      })();
      return connected;
    },
    async publish(prs, correlationId = (pr) => `${options.name}-${pr.requestId}`) {
      const producer = await fixture.producer();
      await producer.send({
        topic: fixture.topic(Topic.PrIngested),
        messages: prs.map((pr) => ({
          key: pr.requestId,
          value: JSON.stringify(createEvent(Topic.PrIngested, pr, { correlationId: correlationId(pr), producer: options.name })),
        })),
      });
    },
    settled: (count, timeoutMs) =>
      eventually(
        `${count} requests terminal`,
        async () => {
          const report = await reconcile(fixture.db.dataSource.manager, { defaultStageDeadlineMs: 600_000 });
          return report.ingested === count && report.inFlight === 0 ? report : null;
        },
        timeoutMs,
      ),
    waitForConsumed: (timeoutMs) => waitForConsumed(PIPELINE_SERVICES.map((name) => `${prefix}${name}`), undefined, timeoutMs),
    async expectOneProviderBatchPerKey() {
      const [{ batches, keys }] = await fixture.db.dataSource.query(`SELECT count(*)::int AS batches, count(DISTINCT batch_key)::int AS keys FROM batches`);
      expect(batches).toBe(keys);
      const created = [sim, openaiSim, anthropicSim].reduce((sum, simulator) => sum + (simulator?.stats().batchesCreated ?? 0), 0);
      expect(created).toBe(batches);
    },
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    if (options.simulator) sim = await startGroqSimulator(options.simulator);
    if (options.openai) openaiSim = await startOpenAiSimulator(options.openai);
    if (options.anthropic) anthropicSim = await startAnthropicSimulator(options.anthropic);
    if (options.services) {
      const pipeline = await startPipeline(fixture.env(), options.services.replicas ?? 1);
      Object.assign(services, pipeline.services);
      for (const service of Object.values(pipeline.services)) started.add(service);
    }
  });

  afterAll(async () => {
    await (await connected?.catch(() => null))?.disconnect();
    for (const service of started) await service.app.close();
    started.clear();
    await sim?.stop();
    await openaiSim?.stop();
    await anthropicSim?.stop();
    await db?.drop();
  });

  return fixture;
}

/** A provider that does what `real` does, except for the calls `overrides` replaces (a slow create, a crash after it). */
export function providerWith(real: BatchProviderPort, overrides: Partial<BatchProviderPort>): BatchProviderPort {
  return {
    findByKey: (key, hint) => real.findByKey(key, hint),
    upload: (request) => real.upload(request),
    create: (request) => real.create(request),
    cancel: (id) => real.cancel(id),
    retrieve: (id) => real.retrieve(id),
    deleteFile: (id) => real.deleteFile(id),
    listKeyed: (options) => real.listKeyed(options),
    listInputFiles: () => real.listInputFiles(),
    ...overrides,
  };
}
