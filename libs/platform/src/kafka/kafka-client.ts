import { type ConsumerConfig, Kafka, logLevel, type LogEntry } from 'kafkajs';
import type { Logger } from 'pino';
import type { ServiceConfig } from '../config/service-config.js';
import { TOPIC_MAX_MESSAGE_BYTES } from './topic-names.js';

const LEVEL_NAMES: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** A kafkajs client whose logs go through the service's JSON logger. */
export function createKafka(clientId: string, brokers: string[], logger?: Logger): Kafka {
  return new Kafka({
    clientId,
    brokers,
    connectionTimeout: 5_000,
    requestTimeout: 30_000,
    retry: { initialRetryTime: 200, retries: 8, maxRetryTime: 10_000 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log }: LogEntry) => {
        if (!logger) return;
        const { message, ...extra } = log;
        logger[LEVEL_NAMES[level] ?? 'info']({ kafka: extra }, message);
      },
  });
}

/**
 * The one consumer configuration of a service, from its validated config: the Nest Kafka transport and
 * `BatchConsumer` join the same group, so they must agree on how long a silent member keeps its partitions.
 */
export function consumerConfigOf(
  kafka: ServiceConfig['kafka'],
): Required<Pick<ConsumerConfig, 'groupId' | 'allowAutoTopicCreation' | 'sessionTimeout' | 'heartbeatInterval' | 'maxBytesPerPartition'>> {
  return {
    groupId: kafka.groupId,
    allowAutoTopicCreation: false,
    sessionTimeout: kafka.sessionTimeoutMs,
    // Several heartbeats per session timeout, so one late heartbeat never evicts a live member.
    heartbeatInterval: Math.min(3_000, Math.floor(kafka.sessionTimeoutMs / 3)),
    // Two of the largest contract messages per partition and fetch.
    maxBytesPerPartition: 2 * TOPIC_MAX_MESSAGE_BYTES,
  };
}
