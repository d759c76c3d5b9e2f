import type { Admin } from 'kafkajs';
import { Gauge, type Registry } from 'prom-client';
import { METRICS, promConfig } from './metric-catalogue.js';
import { cachedRead, collectFrom } from './scrape-cache.js';

/**
 * `cascade_consumer_lag{group,topic,partition}`: how far the service's consumer group is behind the end
 * of each topic it consumes, read from the broker at scrape time (cached briefly: a scrape storm must not
 * become an admin-request storm).
 */
export interface PartitionLag {
  topic: string;
  partition: number;
  lag: number;
}

/** How far `groupId` is behind the end of each partition of `topics` (no commit yet: from the log start). */
export async function readGroupLag(admin: Admin, groupId: string, topics: string[]): Promise<PartitionLag[]> {
  const rows: PartitionLag[] = [];
  const committed = await admin.fetchOffsets({ groupId, topics });
  for (const topic of topics) {
    const ends = await admin.fetchTopicOffsets(topic);
    const done = committed.find((c) => c.topic === topic)?.partitions ?? [];
    for (const end of ends) {
      const offset = Number(done.find((p) => p.partition === end.partition)?.offset ?? -1);
      const from = offset >= 0 ? offset : Number(end.low);
      rows.push({ topic, partition: end.partition, lag: Math.max(0, Number(end.high) - from) });
    }
  }
  return rows;
}

export function registerConsumerLag(registry: Registry, admin: Admin, groupId: string, topics: () => string[], cacheMs = 5_000): Gauge {
  const collect = collectFrom(cachedRead(() => readGroupLag(admin, groupId, topics()), cacheMs));
  return new Gauge({
    ...promConfig(METRICS.consumerLag),
    registers: [registry],
    async collect() {
      await collect((rows) => {
        for (const row of rows) this.set({ group: groupId, topic: row.topic, partition: String(row.partition) }, row.lag);
      });
    },
  });
}
