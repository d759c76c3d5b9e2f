import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin } from 'kafkajs';
import type { TopicSpec } from './topic-names.js';

/** How long a created topic may take to appear with a leader on every partition. */
const TOPICS_READY_MS = 30_000;

/**
 * Creates the topics that are missing (never relies on broker auto-creation) and returns those this call
 * created. Idempotent when services start at once: a topic another caller made first counts as made, and
 * whoever made it, every missing topic must then be there with its partitions, each with a leader.
 */
export async function ensureTopics(admin: Admin, specs: TopicSpec[], replicationFactor: number): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = specs.filter((spec) => !existing.has(spec.name));
  if (missing.length === 0) return [];
  // One request per topic: kafkajs answers false, not an error, for a topic that already exists, so each says who made it.
  const made = await Promise.all(
    missing.map(async (spec) => {
      try {
        return await admin.createTopics({
          waitForLeaders: false,
          topics: [{ topic: spec.name, numPartitions: spec.partitions, replicationFactor, configEntries: [{ name: 'max.message.bytes', value: String(spec.maxMessageBytes) }] }],
        });
      } catch (error) {
        // Another replica's creation can surface as another error: only a topic still absent is a failure.
        if ((await admin.listTopics()).includes(spec.name)) return false;
        throw new Error(`could not create topic ${spec.name}: ${(error as Error).message}`, { cause: error });
      }
    }),
  );
  await topicsReady(admin, missing);
  return missing.filter((_, index) => made[index]).map((spec) => spec.name);
}

/** Until every topic is in the metadata with its partitions, each with a leader; a topic made with other partitions is refused. */
async function topicsReady(admin: Admin, specs: TopicSpec[]): Promise<void> {
  const deadline = Date.now() + TOPICS_READY_MS;
  for (;;) {
    const waitingFor = await notReadyYet(admin, specs).catch((error: unknown) => {
      // Just created, a topic can be unknown to the broker answering metadata for a moment.
      if (error instanceof TopicMismatchError) throw error;
      return (error as Error).message;
    });
    if (waitingFor === null) return;
    if (Date.now() > deadline) throw new Error(`topics ${specs.map((spec) => spec.name).join(', ')} not ready after ${TOPICS_READY_MS} ms: ${waitingFor}`);
    await sleep(100);
  }
}

/** What the topics still wait for (null: nothing). */
async function notReadyYet(admin: Admin, specs: TopicSpec[]): Promise<string | null> {
  // Listed first: metadata asked for a topic the broker does not know yet answers an error kafkajs logs.
  const listed = new Set(await admin.listTopics());
  const unlisted = specs.filter((spec) => !listed.has(spec.name));
  if (unlisted.length > 0) return `not listed yet: ${unlisted.map((spec) => spec.name).join(', ')}`;
  const { topics } = await admin.fetchTopicMetadata({ topics: specs.map((spec) => spec.name) });
  const partitions = new Map(topics.map((topic) => [topic.name, topic.partitions]));
  for (const spec of specs) {
    const found = partitions.get(spec.name)?.length ?? 0;
    if (found > 0 && found !== spec.partitions) throw new TopicMismatchError(`topic ${spec.name} has ${found} partitions, ${spec.partitions} wanted`);
  }
  const leaderless = specs.filter((spec) => !partitions.get(spec.name)?.every((partition) => partition.leader >= 0));
  return leaderless.length > 0 ? `no leader yet for ${leaderless.map((spec) => spec.name).join(', ')}` : null;
}

class TopicMismatchError extends Error {}
