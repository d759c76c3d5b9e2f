import { join } from 'node:path';
import type { ProviderName } from '#batching';
import { openDatabase } from '#platform';
import type { DataSource } from 'typeorm';
import { startAnthropicSimulator } from '../../../../tools/anthropic-simulator/src/simulator.js';
import { startGroqSimulator } from '../../../../tools/groq-simulator/src/simulator.js';
import { startOpenAiSimulator } from '../../../../tools/openai-simulator/src/simulator.js';
import { ensureKafka, ensurePostgres, freePort, REPO_ROOT, type ServiceProcess, spawnService, stopService, waitReady } from './local-stack.js';
import { type ProviderRoute, providerRoutes } from './provider-plan.js';

const SERVICES = ['result-writer', 'retry-service', 'poller', 'batch-submitter'] as const;

export interface PipelineStack {
  brokers: string;
  databaseUrl: string;
  dataSource: DataSource;
  /** Each provider of the chain and whether it runs on its local simulator. */
  routes: ProviderRoute[];
  /** The address of each simulator started, by provider. */
  simulators: Partial<Record<ProviderName, string>>;
  env: NodeJS.ProcessEnv;
  services: ServiceProcess[];
}

export interface StackOptions {
  /** Turns the local database URL into the one this run uses (the demo uses a fresh database of its own). */
  database: (localUrl: string) => Promise<string>;
  topicPrefix: string;
  /** The services' MODEL_CHAIN, as model ids (`parseChain`); it decides which simulators start. */
  chain: readonly string[];
  seed: number;
  extraEnv?: NodeJS.ProcessEnv;
  log: (line: string) => void;
}

/** A simulator as the stack uses it: where it listens and the variables that point the services at it. */
interface StartedSimulator {
  address: string;
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

const PLACEHOLDER_KEY = 'simulator-local-key';
/** Batches end 200 ms after each stage on every simulator: the demo's pace. */
const SIMULATOR_STAGE_DELAY_MS = 200;

const SIMULATORS: Record<ProviderName, { label: string; start(seed: number): Promise<StartedSimulator> }> = {
  groq: {
    label: 'Groq',
    start: async (seed) => {
      const sim = await startGroqSimulator({ seed, stageDelayMs: SIMULATOR_STAGE_DELAY_MS });
      return { address: sim.url, env: { GROQ_BASE_URL: sim.url, GROQ_API_KEY: PLACEHOLDER_KEY }, stop: () => sim.stop() };
    },
  },
  openai: {
    label: 'OpenAI',
    start: async (seed) => {
      const sim = await startOpenAiSimulator({ seed, stageDelayMs: SIMULATOR_STAGE_DELAY_MS });
      return { address: sim.baseURL, env: { OPENAI_BASE_URL: sim.baseURL, OPENAI_API_KEY: PLACEHOLDER_KEY }, stop: () => sim.stop() };
    },
  },
  anthropic: {
    label: 'Anthropic',
    start: async (seed) => {
      const sim = await startAnthropicSimulator({ seed, stageDelayMs: SIMULATOR_STAGE_DELAY_MS });
      return { address: sim.url, env: { ANTHROPIC_BASE_URL: sim.url, ANTHROPIC_API_KEY: PLACEHOLDER_KEY }, stop: () => sim.stop() };
    },
  },
};

/**
 * The embedded default, started in order: broker, PostgreSQL, for each provider of the chain whose key is
 * unset its local simulator (`providerRoutes`), then the four services from the build with MODEL_CHAIN set
 * to the chain. Every step registers how to undo it in `cleanups`.
 */
export async function startPipelineStack(options: StackOptions, cleanups: Array<() => Promise<unknown>>): Promise<PipelineStack> {
  const kafka = await ensureKafka(options.log);
  cleanups.push(() => kafka.stop());
  const postgres = await ensurePostgres(options.log);
  cleanups.push(() => postgres.stop());
  const databaseUrl = await options.database(postgres.url);
  const dataSource = await openDatabase(databaseUrl, 2);
  cleanups.push(() => dataSource.destroy());

  const routes = providerRoutes(options.chain, process.env);
  const simulators: Partial<Record<ProviderName, string>> = {};
  let simulatorEnv: NodeJS.ProcessEnv = {};
  for (const route of routes) {
    const { label, start } = SIMULATORS[route.provider];
    if (!route.simulated) {
      options.log(`${route.keyVariable} is set: using the ${label} Batch API`);
      continue;
    }
    const simulator = await start(options.seed);
    cleanups.push(() => simulator.stop());
    simulators[route.provider] = simulator.address;
    simulatorEnv = { ...simulatorEnv, ...simulator.env };
    options.log(`${route.keyVariable} is not set: using the local ${label} simulator at ${simulator.address}`);
  }
  // Polling at the simulators' pace only when no real provider is in the chain: a real one is polled at the defaults.
  const allSimulated = routes.every((route) => route.simulated);

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KAFKA_BROKERS: kafka.brokers,
    KAFKA_TOPIC_PREFIX: options.topicPrefix,
    DATABASE_URL: databaseUrl,
    MODEL_CHAIN: options.chain.join(','),
    ...simulatorEnv,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    ...(allSimulated
      ? { BATCH_LINGER_MS: '1000', POLL_FIRST_DELAY_MS: '300', POLL_MAX_DELAY_MS: '2000', POLL_TICK_MS: '250', OUTBOX_POLL_MS: '100' }
      : {}),
    ...options.extraEnv,
  };
  const logDir = join(REPO_ROOT, '.cascade/demo/logs');
  const services: ServiceProcess[] = [];
  cleanups.push(async () => {
    for (const service of services) await stopService(service);
  });
  for (const name of SERVICES) services.push(spawnService(name, env, await freePort(), logDir));
  await Promise.all(services.map((service) => waitReady(service, 120_000)));
  options.log('four services ready (logs in .cascade/demo/logs)');
  return { brokers: kafka.brokers, databaseUrl, dataSource, routes, simulators, env, services };
}

/** Runs `work` with cleanups that always run, last registered first; returns its exit code. */
export async function withCleanups(work: (cleanups: Array<() => Promise<unknown>>) => Promise<number>, log: (line: string) => void): Promise<number> {
  const cleanups: Array<() => Promise<unknown>> = [];
  try {
    return await work(cleanups);
  } catch (error) {
    log(`failed: ${(error as Error).message}`);
    return 1;
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => log(`cleanup: ${(error as Error).message}`));
  }
}
