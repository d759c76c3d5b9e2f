import type { Admin } from 'kafkajs';
import type { TopicSpec } from './topic-names.js';

/** Creates the topics that are missing (never relies on broker auto-creation); returns those it created. */
export async function ensureTopics(admin: Admin, specs: TopicSpec[], replicationFactor: number): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = specs.filter((spec) => !existing.has(spec.name));
  if (missing.length === 0) return [];
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((spec) => ({
        topic: spec.name,
        numPartitions: spec.partitions,
        replicationFactor,
        configEntries: [{ name: 'max.message.bytes', value: String(spec.maxMessageBytes) }],
      })),
    });
  } catch (error) {
    // Another replica created them first: only a real absence afterwards is an error.
    const now = new Set(await admin.listTopics());
    const stillMissing = missing.filter((spec) => !now.has(spec.name));
    if (stillMissing.length > 0) {
      throw new Error(`could not create topics ${stillMissing.map((s) => s.name).join(', ')}: ${(error as Error).message}`, { cause: error });
    }
  }
  return missing.map((spec) => spec.name);
}
