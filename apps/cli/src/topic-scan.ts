import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';

export interface TopicRange {
  /** First offset to read per partition (default: the partition's low watermark). */
  from?: Map<number, number>;
  /** Offset to stop before per partition (default: the high watermark when the scan starts). */
  to?: Map<number, number>;
}

/** What the reader wants after a slice: the rest of the range, or nothing more. */
export type ScanStep = 'more' | 'stop' | void;

/**
 * Reads a bounded range of a topic once (or until the reader says stop), from a throwaway consumer group that commits nothing and is
 * deleted afterwards, so a scan never moves any real group's offsets. Resolves when every partition has
 * been read up to its end of the range.
 */
export async function scanTopic(
  kafka: Kafka,
  topic: string,
  range: TopicRange,
  onMessages: (partition: number, messages: KafkaMessage[]) => Promise<ScanStep> | ScanStep,
): Promise<{ messages: number }> {
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `cascade-scan-${randomUUID()}`;
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    const from = new Map(offsets.map((p) => [p.partition, Math.max(Number(p.low), range.from?.get(p.partition) ?? Number(p.low))]));
    const to = new Map(offsets.map((p) => [p.partition, Math.min(Number(p.high), range.to?.get(p.partition) ?? Number(p.high))]));
    const remaining = new Set([...to].filter(([partition, end]) => from.get(partition)! < end).map(([partition]) => partition));
    if (remaining.size === 0) return { messages: 0 };
    let read = 0;
    const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      let finish!: () => void;
      let abort!: (error: unknown) => void;
      const finished = new Promise<void>((resolve, reject) => ((finish = resolve), (abort = reject)));
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch, heartbeat }) => {
          try {
            const end = to.get(batch.partition) ?? 0;
            const messages = batch.messages.filter((m) => Number(m.offset) >= from.get(batch.partition)! && Number(m.offset) < end);
            if (messages.length > 0) {
              read += messages.length;
              if ((await onMessages(batch.partition, messages)) === 'stop') {
                finish();
                return;
              }
            }
            await heartbeat();
            if (Number(batch.lastOffset()) >= end - 1) remaining.delete(batch.partition);
            if (remaining.size === 0) finish();
          } catch (error) {
            abort(error);
          }
        },
      });
      for (const [partition, offset] of from) consumer.seek({ topic, partition, offset: String(offset) });
      await finished;
    } finally {
      await consumer.disconnect();
    }
    return { messages: read };
  } finally {
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}

/** Messages per partition in a topic (high − low watermark), summed. */
export async function topicSize(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  } finally {
    await admin.disconnect();
  }
}
