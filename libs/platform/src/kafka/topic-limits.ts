import kafkajs, { type Admin } from 'kafkajs';
import type { Logger } from 'pino';

// Not a named export Node's ESM loader can see in kafkajs's CommonJS build.
const { ConfigResourceTypes } = kafkajs;

/** Kafka's default `max.message.bytes`: assumed for a topic whose configuration cannot be read. */
export const KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

/**
 * The largest record batch each topic accepts (`max.message.bytes`, the broker's default included), read
 * once per topic per process: topics created elsewhere may keep Kafka's 1 MiB, not the 4 MiB ours get.
 * Raising a topic's limit takes effect for a service at its next start.
 */
export class TopicLimits {
  private readonly known = new Map<string, number>();

  constructor(
    private readonly admin: Admin,
    private readonly logger: Logger,
  ) {}

  async maxMessageBytes(topics: Iterable<string>): Promise<Map<string, number>> {
    const wanted = [...new Set(topics)];
    const missing = wanted.filter((topic) => !this.known.has(topic));
    if (missing.length > 0) {
      try {
        const described = await this.admin.describeConfigs({
          includeSynonyms: false,
          resources: missing.map((name) => ({ type: ConfigResourceTypes.TOPIC, name, configNames: ['max.message.bytes'] })),
        });
        for (const resource of described.resources) {
          const value = Number(resource.configEntries.find((entry) => entry.configName === 'max.message.bytes')?.configValue);
          if (resource.errorCode === 0 && Number.isInteger(value) && value > 0) this.known.set(resource.resourceName, value);
        }
      } catch (error) {
        // Not cached: the next pass asks again. Meanwhile Kafka's default is the safe guess.
        this.logger.warn({ err: error, topics: missing }, `could not read max.message.bytes; assuming ${KAFKA_DEFAULT_MAX_MESSAGE_BYTES}`);
      }
    }
    return new Map(wanted.map((topic) => [topic, this.known.get(topic) ?? KAFKA_DEFAULT_MAX_MESSAGE_BYTES]));
  }
}

/** The broker refused a message (or a batch) as larger than the topic accepts: sending it again cannot succeed. */
export function isMessageTooLarge(error: unknown): boolean {
  const seen = new Set<unknown>();
  const pending: unknown[] = [error];
  while (pending.length > 0) {
    const current = pending.pop() as { type?: unknown; cause?: unknown; errors?: unknown } | null;
    if (current === null || typeof current !== 'object' || seen.has(current)) continue;
    seen.add(current);
    if (current.type === 'MESSAGE_TOO_LARGE' || current.type === 'RECORD_LIST_TOO_LARGE') return true;
    pending.push(current.cause);
    if (Array.isArray(current.errors)) pending.push(...(current.errors as unknown[]));
  }
  return false;
}
