import { decodeEvent, dlqTopicOf, normaliseText, Topic } from '#contracts';
import { consumerGroupOf, DLQ_HEADERS, requestIdentityOf, topicName } from '#platform';
import type { LedgerCheck } from '#ledger';
import type { Kafka } from 'kafkajs';
import type { DataSource } from 'typeorm';
import { scanTopic, topicSize } from '../topic-scan.js';

export interface TopicFigures {
  /** Distinct (request id, prompt version) announced on results.merged.v1, and what was checked against it. */
  terminalEvents: {
    events: number;
    distinctIds: number;
    /** Terminal records resolved since this time are checked (older ones may have left the topic's retention). */
    checkedSince: string;
    awaitingPublication: number;
    missing: Array<{ requestId: string; promptVersion: string; status: string }>;
  };
  /** Distinct ids the batch-submitter consumed from the PR topics, and those neither stored nor dead-lettered. */
  consumedIds: { distinct: number; unreadable: number; unaccounted: Array<{ requestId: string; promptVersion: string }> };
  /** Messages in each dead-letter topic. */
  deadLetterTopics: Record<string, number>;
  /** Events of the PR topics the batch-submitter has not consumed yet (not yet counted as ingested). */
  notYetIngested: number;
}

const PR_TOPICS = [Topic.PrIngested, Topic.PrReplayed];
const keyOf = (requestId: string, promptVersion: string) => JSON.stringify([requestId, promptVersion]);

/**
 * The invariant against the topics, the sources no table can vouch for. Each check reads the database
 * and the topic in the order that makes a concurrent write impossible to miscount: what the database
 * says was announced or consumed happened before the topic is read up to its end.
 */
export async function checkTopics(
  kafka: Kafka,
  dataSource: DataSource,
  options: { prefix: string; defaultPromptVersion: string },
): Promise<{ checks: LedgerCheck[]; figures: TopicFigures }> {
  const terminalEvents = await checkTerminalEvents(kafka, dataSource, options.prefix);
  const consumed = await checkConsumedIds(kafka, dataSource, options);
  const deadLetters = await checkDeadLetterTopics(kafka, dataSource, options.prefix);
  return {
    checks: [terminalEvents.check, consumed.check, deadLetters.check],
    figures: {
      terminalEvents: terminalEvents.figures,
      consumedIds: consumed.figures,
      deadLetterTopics: deadLetters.sizes,
      notYetIngested: consumed.notYetIngested,
    },
  };
}

/**
 * Every terminal record has its event on results.merged.v1: the records first, then the events still in
 * the outbox (a parked one is not on its way: its ids count as never announced), then the topic to its end, so a record written meanwhile is never counted missing. Records
 * older than what the topic still retains (or than the first version that announced every record) are not
 * checked.
 */
async function checkTerminalEvents(kafka: Kafka, dataSource: DataSource, prefix: string) {
  const topic = topicName(Topic.ResultsMerged, prefix);
  const terminal: Array<{ request_id: string; prompt_version: string; status: string; resolved_at: Date }> = await dataSource.query(
    `SELECT r.request_id, r.prompt_version, r.status, res.resolved_at
     FROM requests r JOIN results res USING (request_id, prompt_version)
     WHERE r.status IN ('succeeded', 'failed', 'excluded')`,
  );
  const [marker] = await dataSource.query(`SELECT value->>'terminalEventsSince' AS since FROM control_state WHERE key = 'ledger'`);
  const unpublished: Array<{ request_id: string; prompt_version: string }> = await dataSource.query(
    `SELECT DISTINCT r->'request'->>'requestId' AS request_id, r->'request'->>'promptVersion' AS prompt_version
     FROM outbox o, jsonb_array_elements(convert_from(o.message_value, 'UTF8')::jsonb->'payload'->'resolved') r
     WHERE o.topic = $1 AND o.published_at IS NULL AND o.parked_reason IS NULL`,
    [topic],
  );
  const onTheirWay = new Set(unpublished.map((r) => keyOf(r.request_id, r.prompt_version)));
  const admin = kafka.admin();
  await admin.connect();
  const lows = new Map((await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect())).map((p) => [p.partition, Number(p.low)]));
  const announced = new Set<string>();
  let events = 0;
  // A partition the retention has trimmed holds only what came after its first retained message.
  let retainedSince = 0;
  const firstSeen = new Set<number>();
  await scanTopic(kafka, topic, {}, (partition, messages) => {
    if (!firstSeen.has(partition)) {
      firstSeen.add(partition);
      if ((lows.get(partition) ?? 0) > 0) retainedSince = Math.max(retainedSince, Number(messages[0]!.timestamp));
    }
    for (const message of messages) {
      const decoded = decodeEvent(Topic.ResultsMerged, message.value);
      if (!decoded.ok) continue;
      events++;
      for (const resolved of decoded.event.payload.resolved) announced.add(keyOf(resolved.request.requestId, resolved.request.promptVersion));
    }
  });
  // A trimmed partition with nothing left: nothing before now can be checked.
  for (const [partition, low] of lows) if (low > 0 && !firstSeen.has(partition)) retainedSince = Date.now();
  const since = Math.max(marker?.since ? Date.parse(marker.since) : 0, retainedSince);
  const checked = terminal.filter((r) => new Date(r.resolved_at).getTime() >= since);
  const missing = checked
    .filter((r) => !announced.has(keyOf(r.request_id, r.prompt_version)) && !onTheirWay.has(keyOf(r.request_id, r.prompt_version)))
    .map((r) => ({ requestId: r.request_id, promptVersion: r.prompt_version, status: r.status }));
  return {
    check: {
      name: 'one terminal event per terminal id',
      ok: missing.length === 0,
      detail:
        `${checked.length} terminal requests resolved since ${new Date(since).toISOString()}, ${announced.size} distinct ids announced in ${events} results.merged.v1 events` +
        `${onTheirWay.size ? `, ${onTheirWay.size} on their way from the outbox` : ''}${missing.length ? `; ${missing.length} never announced` : ''}`,
    },
    figures: { events, distinctIds: announced.size, checkedSince: new Date(since).toISOString(), awaitingPublication: onTheirWay.size, missing: missing.slice(0, 1_000) },
  };
}

/**
 * Every request id the batch-submitter consumed from the PR topics is stored or dead-lettered: the topics
 * up to the group's committed offsets (whose effects are committed) first, then the database.
 */
async function checkConsumedIds(kafka: Kafka, dataSource: DataSource, options: { prefix: string; defaultPromptVersion: string }) {
  const admin = kafka.admin();
  await admin.connect();
  const groupId = consumerGroupOf('batch-submitter', options.prefix);
  const consumedTo = new Map<string, Map<number, number>>();
  let notYetIngested = 0;
  try {
    for (const topic of PR_TOPICS.map((t) => topicName(t, options.prefix))) {
      const ends = await admin.fetchTopicOffsets(topic).catch(() => []);
      const committed = new Map(((await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
      const to = new Map(ends.map((p) => [p.partition, Math.max(Number(p.low), committed.get(p.partition) ?? Number(p.low))]));
      for (const p of ends) notYetIngested += Number(p.high) - to.get(p.partition)!;
      consumedTo.set(topic, to);
    }
  } finally {
    await admin.disconnect();
  }
  const ids = new Map<string, { requestId: string; promptVersion: string }>();
  let unreadable = 0;
  for (const [topic, to] of consumedTo) {
    await scanTopic(kafka, topic, { to }, (_partition, messages) => {
      for (const message of messages) {
        const { requestId, promptVersion } = requestIdentityOf(message.value);
        if (!requestId) {
          unreadable++;
          continue;
        }
        // As the dead letters store them: normalised.
        const id = { requestId: normaliseText(requestId), promptVersion: normaliseText(promptVersion ?? options.defaultPromptVersion) };
        ids.set(keyOf(id.requestId, id.promptVersion), id);
      }
    });
  }
  const accounted: Array<{ request_id: string; prompt_version: string }> = ids.size
    ? await dataSource.query(
        `SELECT k.request_id, k.prompt_version FROM unnest($1::text[], $2::text[]) AS k(request_id, prompt_version)
         WHERE EXISTS (SELECT 1 FROM requests r WHERE r.request_id = k.request_id AND r.prompt_version = k.prompt_version)
            OR EXISTS (SELECT 1 FROM dead_letters d WHERE d.request_id = k.request_id AND COALESCE(d.prompt_version, $3) = k.prompt_version)`,
        [[...ids.values()].map((id) => id.requestId), [...ids.values()].map((id) => id.promptVersion), options.defaultPromptVersion],
      )
    : [];
  const found = new Set(accounted.map((row) => keyOf(row.request_id, row.prompt_version)));
  const unaccounted = [...ids].filter(([key]) => !found.has(key)).map(([, id]) => id);
  return {
    check: {
      name: 'every consumed id stored or dead-lettered',
      ok: unaccounted.length === 0,
      detail:
        `${ids.size} distinct ids consumed from ${PR_TOPICS.join(' and ')} (${unreadable} messages without a readable id, each a dead letter)` +
        `${unaccounted.length ? `; ${unaccounted.length} neither stored nor dead-lettered, e.g. ${unaccounted[0]!.requestId}` : ''}`,
    },
    figures: { distinct: ids.size, unreadable, unaccounted: unaccounted.slice(0, 1_000) },
    notYetIngested,
  };
}

/** Every message in a dead-letter topic has its dead_letters row: the topics first, then the rows (written before the publish). */
async function checkDeadLetterTopics(kafka: Kafka, dataSource: DataSource, prefix: string) {
  const sizes: Record<string, number> = {};
  const sources: Array<{ key: string; at: string }> = [];
  for (const topic of Object.values(Topic)) {
    const dlq = dlqTopicOf(topicName(topic, prefix));
    sizes[dlq] = await topicSize(kafka, dlq).catch(() => 0);
    if (sizes[dlq] === 0) continue;
    await scanTopic(kafka, dlq, {}, (_partition, messages) => {
      for (const message of messages) {
        const header = (name: string) => message.headers?.[name]?.toString() ?? '';
        sources.push({
          key: JSON.stringify([header(DLQ_HEADERS.consumerGroup), header(DLQ_HEADERS.originalTopic), Number(header(DLQ_HEADERS.originalPartition)), header(DLQ_HEADERS.originalOffset)]),
          at: `${dlq}@${message.offset}`,
        });
      }
    });
  }
  const rows: Array<{ consumer_group: string; topic: string; partition: number; offset: string }> = await dataSource.query(
    `SELECT consumer_group, topic, partition, message_offset::text AS "offset" FROM dead_letters`,
  );
  const recorded = new Set(rows.map((d) => JSON.stringify([d.consumer_group, d.topic, d.partition, d.offset])));
  const unrecorded = sources.filter((source) => !recorded.has(source.key)).map((source) => source.at);
  return {
    check: {
      name: 'every dead letter recorded',
      ok: unrecorded.length === 0,
      detail: `${sources.length} messages in the dead-letter topics, ${recorded.size} dead_letters rows${unrecorded.length ? `; not recorded: ${unrecorded.slice(0, 5).join(', ')}` : ''}`,
    },
    sizes,
  };
}
