import { join } from 'node:path';
import { openDatabase } from '#platform';
import type { DataSource } from 'typeorm';
import { type GroqSimulator, startGroqSimulator } from '../../../../tools/groq-simulator/src/simulator.js';
import { ensureKafka, ensurePostgres, freePort, REPO_ROOT, type ServiceProcess, spawnService, stopService, waitReady } from './local-stack.js';

const SERVICES = ['result-writer', 'retry-service', 'poller', 'batch-submitter'] as const;

export interface PipelineStack {
  brokers: string;
  databaseUrl: string;
  dataSource: DataSource;
  simulator: GroqSimulator | null;
  env: NodeJS.ProcessEnv;
  services: ServiceProcess[];
}

export interface StackOptions {
  /** Turns the local database URL into the one this run uses (the demo uses a fresh database of its own). */
  database: (localUrl: string) => Promise<string>;
  topicPrefix: string;
  seed: number;
  extraEnv?: NodeJS.ProcessEnv;
  log: (line: string) => void;
}

/**
 * The embedded default, started in order: broker, PostgreSQL, the Groq simulator when GROQ_API_KEY
 * is unset, then the four services from the build. Every step registers how to undo it in `cleanups`.
 */
export async function startPipelineStack(options: StackOptions, cleanups: Array<() => Promise<unknown>>): Promise<PipelineStack> {
  const kafka = await ensureKafka(options.log);
  cleanups.push(() => kafka.stop());
  const postgres = await ensurePostgres(options.log);
  cleanups.push(() => postgres.stop());
  const databaseUrl = await options.database(postgres.url);
  const dataSource = await openDatabase(databaseUrl, 2);
  cleanups.push(() => dataSource.destroy());

  let simulator: GroqSimulator | null = null;
  if (!process.env.GROQ_API_KEY) {
    simulator = await startGroqSimulator({ seed: options.seed, stageDelayMs: 200 });
    cleanups.push(() => simulator!.stop());
    options.log(`GROQ_API_KEY is not set: using the local Groq simulator at ${simulator.url}`);
  } else options.log('GROQ_API_KEY is set: using the Groq Batch API');

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KAFKA_BROKERS: kafka.brokers,
    KAFKA_TOPIC_PREFIX: options.topicPrefix,
    DATABASE_URL: databaseUrl,
    GROQ_API_KEY: process.env.GROQ_API_KEY ?? 'simulator-local-key',
    GROQ_BASE_URL: simulator?.url ?? process.env.GROQ_BASE_URL ?? 'https://api.groq.com',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    ...(simulator
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
  return { brokers: kafka.brokers, databaseUrl, dataSource, simulator, env, services };
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
