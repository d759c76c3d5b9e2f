import { createEvent, decodeEvent, type PrIngestedPayload, Topic } from '#contracts';
import { promptRegistryFrom } from '#batching';
import { consumerGroupOf, createKafka, EventPublisher, openDatabase, topicName } from '#platform';
import { SingleBar } from 'cli-progress';
import type { Admin, Kafka } from 'kafkajs';
import { exclusionOf } from '../../../batch-submitter/src/ingestion/prompt-guard.js';
import { scanTopic } from '../topic-scan.js';
import { Command, CommandRunner, Option } from 'nest-commander';
import { cliConfig, ensureCliTopics, fail } from '../cli-context.js';

const REPLAY_PRODUCER = 'cascade-replay';

interface ReplayOptions {
  topic?: string;
  from?: string;
  promptVersion?: string;
  dryRun?: boolean;
  group?: string;
  restart?: boolean;
  limit?: number;
}

type Start = { kind: 'earliest' } | { kind: 'offset'; offset: number } | { kind: 'time'; at: number };

export function parseFrom(value: string | undefined): Start {
  if (!value || value === 'earliest') return { kind: 'earliest' };
  if (/^\d+$/.test(value)) return { kind: 'offset', offset: Number(value) };
  const at = Date.parse(value);
  if (Number.isNaN(at)) throw new Error(`--from must be "earliest", an offset or an ISO time, got "${value}"`);
  return { kind: 'time', at };
}

/** What a replay range holds: the last copy of each id (the one to re-feed), and what is left aside. */
interface Survey {
  /** Per partition, the offsets of the copies to re-feed: the last copy of each request id in the range. */
  latest: Map<number, Set<number>>;
  events: number;
  distinctIds: number;
  excluded: number;
  unreadable: number;
  /** Earlier copies of an id that a later copy in the range supersedes (an edited PR synced twice). */
  superseded: number;
  /** Re-feeds an older version of `cascade replay` appended to the topic of record itself. */
  echoes: number;
}

/**
 * Re-feeds history: reads pr.ingested.v1 from a point in time or offset and publishes the last copy of
 * each PR in that range to pr.replayed.v1 (with `--prompt-version`, for that version), which the
 * batch-submitter consumes like the topic of record. The topic of record is never appended to, and
 * earlier copies of an edited PR are not re-sent: same text and version → unchanged, no provider call,
 * no new row; a new version → a new analysis kept beside the old one. Progress is committed under a
 * replay group of its own, so a stopped backfill resumes where it stopped (`--restart` starts over).
 */
@Command({ name: 'replay', description: 'Re-feed pr.ingested.v1 history from a time or offset, optionally for a new prompt version' })
export class ReplayCommand extends CommandRunner {
  async run(_params: string[], options: ReplayOptions): Promise<void> {
    const topic = options.topic ?? Topic.PrIngested;
    if (topic !== Topic.PrIngested) fail(`only ${Topic.PrIngested} can be replayed: the later topics are derived from it`);
    const start = parseFrom(options.from);
    const env = cliConfig();
    const kafka = createKafka('cascade-replay', env.KAFKA_BROKERS);
    const physical = topicName(Topic.PrIngested, env.KAFKA_TOPIC_PREFIX);
    const groupId = options.group ?? `${consumerGroupOf('replay', env.KAFKA_TOPIC_PREFIX)}${options.promptVersion ? `-${options.promptVersion}` : ''}`;
    const admin = kafka.admin();
    await admin.connect();
    try {
      const ends = new Map((await admin.fetchTopicOffsets(physical)).map((p) => [p.partition, Number(p.high)]));
      const starts = await this.startOffsets(admin, physical, groupId, start, options.restart ?? false);
      const total = [...ends].reduce((sum, [partition, high]) => sum + Math.max(0, high - (starts.get(partition) ?? high)), 0);
      if (total === 0) {
        process.stdout.write(options.dryRun ? '0 PRs would be re-fed: nothing in range\n' : `nothing to replay: group ${groupId} is at the end of ${physical}\n`);
        return;
      }
      const survey = await this.survey(kafka, physical, starts, ends);
      if (options.dryRun) {
        await this.estimate(survey, options.promptVersion);
        return;
      }
      await ensureCliTopics(kafka, env);
      const publisher = new EventPublisher(kafka, env.KAFKA_TOPIC_PREFIX);
      await publisher.connect();
      try {
        await this.replay(kafka, admin, publisher, { physical, groupId, starts, ends, survey, budget: Math.min(total, options.limit ?? total), total }, options.promptVersion);
      } finally {
        await publisher.disconnect();
      }
    } finally {
      await admin.disconnect();
    }
  }

  /** Where each partition starts: the group's own commit where it has one (resume), else `--from`. */
  private async startOffsets(admin: Admin, topic: string, groupId: string, start: Start, restart: boolean): Promise<Map<number, number>> {
    const low = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.low)]));
    const from =
      start.kind === 'time'
        ? new Map((await admin.fetchTopicOffsetsByTimestamp(topic, start.at)).map((p) => [p.partition, Number(p.offset)]))
        : new Map([...low].map(([partition, first]) => [partition, start.kind === 'offset' ? Math.max(first, start.offset) : first]));
    if (restart) return from;
    // A backfill stopped by --limit has commits only where it got to: the other partitions start at --from.
    const committed = (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions ?? [];
    for (const p of committed) if (Number(p.offset) >= 0) from.set(p.partition, Number(p.offset));
    return from;
  }

  /** One read of the range before anything is sent: which copy of each id is the last, and what is left aside. */
  private async survey(kafka: Kafka, topic: string, starts: Map<number, number>, ends: Map<number, number>): Promise<Survey> {
    const last = new Map<string, { partition: number; offset: number; occurredAt: number; excluded: boolean }>();
    const survey: Survey = { latest: new Map(), events: 0, distinctIds: 0, excluded: 0, unreadable: 0, superseded: 0, echoes: 0 };
    await scanTopic(kafka, topic, { from: starts, to: ends }, (partition, messages) => {
      for (const message of messages) {
        survey.events++;
        const decoded = decodeEvent(Topic.PrIngested, message.value);
        if (!decoded.ok) {
          survey.unreadable++;
          continue;
        }
        if (decoded.event.producer === REPLAY_PRODUCER) {
          survey.echoes++;
          continue;
        }
        const id = decoded.event.payload.requestId;
        const copy = { partition, offset: Number(message.offset), occurredAt: Date.parse(decoded.event.occurredAt), excluded: exclusionOf(decoded.event.payload) !== null };
        const seen = last.get(id);
        if (seen) survey.superseded++;
        // The last copy is the one the upstream observed last (copies of one id may sit on several partitions).
        if (!seen || copy.occurredAt >= seen.occurredAt) last.set(id, copy);
      }
    });
    for (const { partition, offset, excluded } of last.values()) {
      if (!survey.latest.has(partition)) survey.latest.set(partition, new Set());
      survey.latest.get(partition)!.add(offset);
      if (excluded) survey.excluded++;
    }
    survey.distinctIds = last.size;
    return survey;
  }

  private async estimate(survey: Survey, promptVersion: string | undefined): Promise<void> {
    const env = cliConfig();
    const dataSource = await openDatabase(env.DATABASE_URL, 2);
    try {
      // What an analysis has cost so far on the billed basis: every finished batch's bill (retries and billed
      // failures included) over the requests the provider answered or failed for good.
      const [avg] = await dataSource.query(
        `SELECT (SELECT coalesce(sum(cost_usd), 0) FROM batches WHERE state = 'finished')::float8
                / nullif((SELECT count(*) FROM results WHERE status IN ('succeeded', 'failed') AND attempt > 0), 0) AS cost`,
      );
      const perRequest = Number(avg?.cost ?? 0);
      const sendable = survey.distinctIds - survey.excluded;
      process.stdout.write(
        `${survey.distinctIds} PRs would be re-fed${promptVersion ? ` for prompt version ${promptVersion}` : ' (the current prompt version: already analysed ones cost $0)'}: ` +
          `${sendable} to analyse, ${survey.excluded} excluded (never sent); ` +
          `${survey.events} events read, ${survey.superseded} earlier copies superseded by a later one, ${survey.unreadable} unreadable, ${survey.echoes} earlier replays skipped\n` +
          `estimated cost $${(sendable * perRequest).toFixed(4)} (${sendable} × $${perRequest.toFixed(6)}, the billed cost per analysed request so far)\n`,
      );
    } finally {
      await dataSource.destroy();
    }
  }

  private async replay(
    kafka: Kafka,
    admin: Admin,
    publisher: EventPublisher,
    range: { physical: string; groupId: string; starts: Map<number, number>; ends: Map<number, number>; survey: Survey; budget: number; total: number },
    promptVersion: string | undefined,
  ): Promise<void> {
    const bar = new SingleBar({ format: 'replay {bar} {value}/{total} events | {sent} PRs re-fed', stream: process.stderr, noTTYOutput: true, notTTYSchedule: 3_000 });
    bar.start(range.budget, 0, { sent: 0 });
    let done = 0;
    let sent = 0;
    let stopping = false;
    const stop = () => (stopping = true);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const to = new Map(range.ends);
    try {
      await scanTopic(kafka, range.physical, { from: range.starts, to }, async (partition, batch) => {
        // With --limit or Ctrl-C, stop at a message boundary: the committed offsets make the next run resume there.
        const messages = stopping ? [] : batch.slice(0, Math.max(0, range.budget - done));
        if (messages.length === 0) return 'stop';
        const latest = range.survey.latest.get(partition) ?? new Set<number>();
        const events = [];
        for (const message of messages) {
          if (!latest.has(Number(message.offset))) continue;
          const decoded = decodeEvent(Topic.PrIngested, message.value);
          if (!decoded.ok) continue;
          const original = decoded.event;
          const payload: PrIngestedPayload = promptVersion ? { ...original.payload, promptVersion } : original.payload;
          events.push(
            publisher.encode(
              Topic.PrReplayed,
              // The original's occurredAt: ingestion orders copies of one id by it.
              createEvent(Topic.PrReplayed, payload, {
                correlationId: original.correlationId,
                causationId: original.eventId,
                producer: REPLAY_PRODUCER,
                occurredAt: new Date(original.occurredAt),
              }),
            ),
          );
        }
        // Published before the offsets move: a stop between the two re-publishes, never skips.
        await publisher.send(events);
        const next = Number(messages[messages.length - 1]!.offset) + 1;
        await admin.setOffsets({ groupId: range.groupId, topic: range.physical, partitions: [{ partition, offset: String(next) }] });
        done += messages.length;
        sent += events.length;
        bar.update(done, { sent });
        return done >= range.budget ? 'stop' : 'more';
      });
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      bar.stop();
    }
    process.stdout.write(
      `replayed ${sent} PR events${promptVersion ? ` for prompt version ${promptVersion}` : ''} to ${Topic.PrReplayed}; ` +
        `${range.survey.superseded} superseded copies, ${range.survey.unreadable} unreadable and ${range.survey.echoes} earlier replays skipped` +
        `${done < range.total ? `; stopped at ${done}/${range.total}: run again to resume` : ''}\n`,
    );
  }

  @Option({ flags: '--topic <topic>', description: `the topic to replay (only ${Topic.PrIngested})` })
  parseTopic(value: string): string {
    return value;
  }

  @Option({ flags: '--from <from>', description: 'earliest (default), an offset, or an ISO time' })
  parseFromOption(value: string): string {
    parseFrom(value);
    return value;
  }

  @Option({ flags: '--prompt-version <version>', description: 'analyse again under this prompt version (kept beside the current one)' })
  parsePromptVersion(value: string): string {
    // Refused here, before any event is read or sent: the version needs a folder in PROMPTS_DIR.
    promptRegistryFrom(cliConfig()).assertKnown(value);
    return value;
  }

  @Option({ flags: '--dry-run', description: 'print how many distinct PRs would be re-fed (excluded ones apart) and the estimated cost' })
  parseDryRun(): boolean {
    return true;
  }

  @Option({ flags: '--group <group>', description: 'the replay consumer group (its commits make a stopped replay resumable)' })
  parseGroup(value: string): string {
    return value;
  }

  @Option({ flags: '--limit <events>', description: 'stop after this many events (a backfill in chunks; the next run resumes)' })
  parseLimit(value: string): number {
    if (!/^\d+$/.test(value) || Number(value) < 1) throw new Error(`--limit must be a positive integer, got "${value}"`);
    return Number(value);
  }

  @Option({ flags: '--restart', description: 'ignore where this replay group stopped and start again from --from' })
  parseRestart(): boolean {
    return true;
  }
}
