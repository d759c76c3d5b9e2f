import { AssignerProtocol, type Admin } from 'kafkajs';
import type { DataSource } from 'typeorm';
import { eventually } from './eventually.js';
import { testKafka } from './infra.js';

/** The topics the group's live members are assigned (none while the group is empty or rebalancing). */
async function assignedTopics(admin: Admin, groupId: string): Promise<string[]> {
  const { groups } = await admin.describeGroups([groupId]);
  const topics = new Set<string>();
  for (const member of groups[0]?.members ?? []) {
    const decoded = AssignerProtocol.MemberAssignment.decode(member.memberAssignment);
    for (const topic of Object.keys(decoded?.assignment ?? {})) topics.add(topic);
  }
  return [...topics];
}

/** Per topic and partition, how many messages the group has not committed yet (end offset − committed offset). */
export async function consumerLag(admin: Admin, groupId: string, topics: string[]): Promise<Array<{ topic: string; partition: number; lag: number }>> {
  const committed = await admin.fetchOffsets({ groupId, topics });
  const lags: Array<{ topic: string; partition: number; lag: number }> = [];
  for (const topic of topics) {
    const ends = await admin.fetchTopicOffsets(topic);
    const done = committed.find((c) => c.topic === topic)?.partitions ?? [];
    for (const end of ends) {
      const offset = Number(done.find((p) => p.partition === end.partition)?.offset ?? '-1');
      lags.push({ topic, partition: end.partition, lag: Number(end.high) - Math.max(0, offset) });
    }
  }
  return lags;
}

/**
 * Waits until each consumer group has committed every partition of its topics up to the topics' end
 * offsets (lag 0). A group commits a message's offset only after its handler returned, so from then on
 * every message produced before the call has been handled: what it changed is in the database, and what
 * it skipped (a duplicate) has provably been skipped. Topics default to those the group's members are
 * assigned. Messages produced while waiting are waited for too.
 */
export async function waitForConsumed(groupIds: string | string[], topics?: string[], timeoutMs = 60_000): Promise<void> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    for (const groupId of [groupIds].flat()) {
      await eventually(
        `consumer group ${groupId} at the end of ${topics?.join(', ') ?? 'its topics'}`,
        async () => {
          const of = topics ?? (await assignedTopics(admin, groupId));
          if (of.length === 0) return false;
          const behind = (await consumerLag(admin, groupId, of)).filter((p) => p.lag > 0);
          expect({ groupId, behind }).toEqual({ groupId, behind: [] });
          return true;
        },
        timeoutMs,
      );
    }
  } finally {
    await admin.disconnect();
  }
}

/** Waits until `consumerGroup` (any group, if not given) has a `processed_events` row for every one of `eventIds`. */
export async function waitForProcessed(dataSource: DataSource, eventIds: string[], consumerGroup?: string, timeoutMs = 60_000): Promise<void> {
  await eventually(
    `${eventIds.length} events processed${consumerGroup ? ` by ${consumerGroup}` : ''}`,
    async () => {
      const [{ n }] = await dataSource.query(
        `SELECT count(DISTINCT event_id)::int AS n FROM processed_events WHERE event_id = ANY($1::uuid[]) AND ($2::text IS NULL OR consumer_group = $2)`,
        [eventIds, consumerGroup ?? null],
      );
      return n === new Set(eventIds).size;
    },
    timeoutMs,
  );
}
