import kafkajs, { type Admin } from 'kafkajs';
import type { Logger } from 'pino';

// Not a named export Node's ESM loader can see in kafkajs's CommonJS build.
const { ConfigResourceTypes } = kafkajs;

const SECOND_MS = 1_000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** `14 days`, `12 h`, `36 min`, `43.2 s`: the largest unit the duration fills, to three significant digits. */
export function humanDuration(ms: number): string {
  const [size, unit] = ms >= DAY_MS ? [DAY_MS, 'days'] : ms >= HOUR_MS ? [HOUR_MS, 'h'] : ms >= MINUTE_MS ? [MINUTE_MS, 'min'] : [SECOND_MS, 's'];
  const value = Number((ms / size).toPrecision(3));
  return `${value} ${value === 1 && unit === 'days' ? 'day' : unit}`;
}

/**
 * The inbox remembers an event id for INBOX_RETENTION_DAYS, and Kafka can hand an event back for as long as its
 * topic keeps it (a group reset to an earlier offset, or a group expired by `offsets.retention.minutes`, re-reads
 * from the earliest offset): an event read after its id was pruned applies its effect twice. The warning for a
 * topic that keeps messages longer than the inbox keeps ids (`retention.ms` -1 keeps them forever), or null.
 */
export function inboxRetentionWarning(topic: string, retentionMs: number, inboxRetentionDays: number): string | null {
  const inboxMs = inboxRetentionDays * DAY_MS;
  if (retentionMs >= 0 && retentionMs <= inboxMs) return null;
  const kept = retentionMs < 0 ? 'forever (retention.ms=-1)' : `for ${humanDuration(retentionMs)} (retention.ms=${retentionMs})`;
  return (
    `topic ${topic} keeps messages ${kept}, longer than the inbox keeps event ids (INBOX_RETENTION_DAYS=${inboxRetentionDays}, ` +
    `${humanDuration(inboxMs)}): an event read again after that would apply its effect twice; raise INBOX_RETENTION_DAYS above the topic's retention`
  );
}

/**
 * At boot: reads `retention.ms` of the topics the service consumes (admin `describeConfigs`, the broker's default
 * included, as `TopicLimits` reads `max.message.bytes`) and logs one warning per topic that keeps messages longer
 * than the inbox keeps ids. Never stops the service: a configuration it cannot read is a warning too. Returns the
 * topics warned about.
 */
export async function checkInboxRetention(admin: Admin, topics: string[], inboxRetentionDays: number, logger: Logger): Promise<string[]> {
  if (topics.length === 0) return [];
  const unread = new Set(topics);
  const warned: string[] = [];
  let failure: unknown;
  try {
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: topics.map((name) => ({ type: ConfigResourceTypes.TOPIC, name, configNames: ['retention.ms'] })),
    });
    for (const resource of described.resources) {
      const value = Number(resource.configEntries.find((entry) => entry.configName === 'retention.ms')?.configValue);
      if (resource.errorCode !== 0 || !Number.isInteger(value)) continue;
      unread.delete(resource.resourceName);
      const warning = inboxRetentionWarning(resource.resourceName, value, inboxRetentionDays);
      if (warning === null) continue;
      warned.push(resource.resourceName);
      logger.warn({ topic: resource.resourceName, retentionMs: value, inboxRetentionDays }, warning);
    }
  } catch (error) {
    failure = error;
  }
  if (unread.size > 0) {
    logger.warn(
      { err: failure, topics: [...unread], inboxRetentionDays },
      `retention.ms of ${[...unread].join(', ')} unknown: keep INBOX_RETENTION_DAYS (${inboxRetentionDays}) above how long they keep messages`,
    );
  }
  return warned;
}
