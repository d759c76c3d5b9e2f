import { decodeEvent, dlqTopicOf, Topic } from '#contracts';
import { consumerGroupOf, topicName } from '#platform';
import type { LedgerCheck } from '#ledger';
import type { Kafka } from 'kafkajs';
import type { DataSource } from 'typeorm';
import { scanTopic, topicSize } from '../topic-scan.js';

export interface TopicFigures {
  /** Distinct (request id, prompt version) announced on results.merged.v1, and events read. */
  terminalEvents: { events: number; distinctIds: number; awaitingPublication: number; missing: Array<{ requestId: string; promptVersion: string; status: string }> };
  /** Messages in each dead-letter topic. */
  deadLetterTopics: Record<string, number>;
  /** Events of the PR topics the batch-submitter has not consumed yet (not yet counted as ingested). */
  notYetIngested: number;
}

/**
 * The invariant against the topics, the sources no table can vouch for: every terminal request was
 * announced on results.merged.v1 (one terminal event per id), and what the PR topics hold was consumed.
 */
export async function checkTopics(kafka: Kafka, dataSource: DataSource, prefix: string): Promise<{ checks: LedgerCheck[]; figures: TopicFigures }> {
  const announced = new Map<string, string>();
  let events = 0;
  await scanTopic(kafka, topicName(Topic.ResultsMerged, prefix), {}, (_partition, messages) => {
    for (const message of messages) {
      const decoded = decodeEvent(Topic.ResultsMerged, message.value);
      if (!decoded.ok) continue;
      events++;
      for (const resolved of decoded.event.payload.resolved) {
        announced.set(JSON.stringify([resolved.request.requestId, resolved.request.promptVersion]), resolved.status);
      }
    }
  });
  const terminal: Array<{ request_id: string; prompt_version: string; status: string }> = await dataSource.query(
    `SELECT request_id, prompt_version, status FROM requests WHERE status IN ('succeeded', 'failed', 'excluded')`,
  );
  // Announced in the outbox but not published yet (the relay runs every few hundred ms): on their way, not missing.
  const unpublished: Array<{ request_id: string; prompt_version: string }> = await dataSource.query(
    `SELECT DISTINCT r->'request'->>'requestId' AS request_id, r->'request'->>'promptVersion' AS prompt_version
     FROM outbox o, jsonb_array_elements(convert_from(o.message_value, 'UTF8')::jsonb->'payload'->'resolved') r
     WHERE o.topic = $1 AND o.published_at IS NULL`,
    [topicName(Topic.ResultsMerged, prefix)],
  );
  const onTheirWay = new Set(unpublished.map((r) => JSON.stringify([r.request_id, r.prompt_version])));
  const missing = terminal
    .filter((r) => !announced.has(JSON.stringify([r.request_id, r.prompt_version])) && !onTheirWay.has(JSON.stringify([r.request_id, r.prompt_version])))
    .map((r) => ({ requestId: r.request_id, promptVersion: r.prompt_version, status: r.status }));

  // Every message in a dead-letter topic has its dead_letters row (its source offset, per consumer group).
  const deadLetterTopics: Record<string, number> = {};
  const unrecorded: string[] = [];
  const recorded = new Set(
    ((await dataSource.query(`SELECT consumer_group, topic, partition, message_offset::text AS "offset" FROM dead_letters`)) as Array<{
      consumer_group: string;
      topic: string;
      partition: number;
      offset: string;
    }>).map((d) => JSON.stringify([d.consumer_group, d.topic, d.partition, d.offset])),
  );
  for (const topic of Object.values(Topic)) {
    const dlq = dlqTopicOf(topicName(topic, prefix));
    deadLetterTopics[dlq] = await topicSize(kafka, dlq).catch(() => 0);
    if (deadLetterTopics[dlq] === 0) continue;
    await scanTopic(kafka, dlq, {}, (_partition, messages) => {
      for (const message of messages) {
        const header = (name: string) => message.headers?.[name]?.toString() ?? '';
        const source = JSON.stringify([header('dlq-consumer-group'), header('dlq-original-topic'), Number(header('dlq-original-partition')), header('dlq-original-offset')]);
        if (!recorded.has(source)) unrecorded.push(`${dlq}@${message.offset}`);
      }
    });
  }

  const admin = kafka.admin();
  await admin.connect();
  let notYetIngested = 0;
  try {
    const groupId = consumerGroupOf('batch-submitter', prefix);
    for (const topic of [Topic.PrIngested, Topic.PrReplayed].map((t) => topicName(t, prefix))) {
      const ends = await admin.fetchTopicOffsets(topic).catch(() => []);
      const committed = new Map(
        ((await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]),
      );
      for (const p of ends) notYetIngested += Number(p.high) - Math.max(Number(p.low), committed.get(p.partition) ?? Number(p.low));
    }
  } finally {
    await admin.disconnect();
  }

  const checks: LedgerCheck[] = [
    {
      name: 'one terminal event per terminal id',
      ok: missing.length === 0,
      detail: `${terminal.length} terminal requests, ${announced.size} distinct ids announced in ${events} results.merged.v1 events${missing.length ? `; ${missing.length} never announced` : ''}`,
    },
    {
      name: 'every dead letter recorded',
      ok: unrecorded.length === 0,
      detail: `${Object.values(deadLetterTopics).reduce((a, b) => a + b, 0)} messages in the dead-letter topics, ${recorded.size} dead_letters rows${unrecorded.length ? `; not recorded: ${unrecorded.slice(0, 5).join(', ')}` : ''}`,
    },
  ];
  return { checks, figures: { terminalEvents: { events, distinctIds: announced.size, awaitingPublication: onTheirWay.size, missing: missing.slice(0, 1_000) }, deadLetterTopics, notYetIngested } };
}
