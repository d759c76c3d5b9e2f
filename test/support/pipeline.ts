import type { RunningService } from '#platform';
import { brokers } from './infra.js';

/**
 * The four services in this process, against a real broker, a test database and a simulator.
 * Topic names are fixed when the controllers are imported, so the caller sets KAFKA_TOPIC_PREFIX
 * before the first call, and uses one prefix per test file.
 */
export interface Pipeline {
  services: Record<string, RunningService>;
  stop(): Promise<void>;
}

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
      services[replicas > 1 ? `${name}#${replica}` : name] = await startService(name, env, replicas > 1 ? '' : '');
    }
  }
  return {
    services,
    async stop() {
      for (const service of Object.values(services)) await service.app.close();
    },
  };
}
