import { createEvent, decodeEvent, type PrIngestedPayload, Topic } from '#contracts';
import { assertKnownPromptVersion } from '#groq-batch';
import { consumerGroupOf, createKafka, EventPublisher, openDatabase, topicName } from '#platform';
import { SingleBar } from 'cli-progress';
import type { Admin, Consumer } from 'kafkajs';
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

/**
 * Re-feeds history: reads pr.ingested.v1 from a point in time or offset with a replay consumer group of
 * its own and publishes each PR again (with `--prompt-version`, for that version). The batch-submitter
 * treats them like any PR: same text and version → unchanged, no provider call, no new row; a new
 * version → a new analysis kept beside the old one. The replay group commits as it goes, so a stopped
 * backfill resumes where it stopped (use `--restart` to start over from `--from`).
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
      if (options.dryRun) {
        await this.estimate(total, options.promptVersion);
        return;
      }
      if (total === 0) {
        process.stdout.write(`nothing to replay: group ${groupId} is at the end of ${physical}\n`);
        return;
      }
      await admin.setOffsets({ groupId, topic: physical, partitions: [...starts].map(([partition, offset]) => ({ partition, offset: String(offset) })) });
      await ensureCliTopics(kafka, env);
      await this.replay(
        kafka.consumer({ groupId, allowAutoTopicCreation: false }),
        new EventPublisher(kafka, env.KAFKA_TOPIC_PREFIX),
        physical,
        ends,
        starts,
        Math.min(total, options.limit ?? total),
        total,
        options.promptVersion,
      );
    } finally {
      await admin.disconnect();
    }
  }

  /** Where each partition starts: the group's own commits (resume), or `--from`. */
  private async startOffsets(admin: Admin, topic: string, groupId: string, start: Start, restart: boolean): Promise<Map<number, number>> {
    const committed = (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions ?? [];
    const low = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.low)]));
    if (!restart && committed.some((p) => Number(p.offset) >= 0)) {
      return new Map(committed.map((p) => [p.partition, Number(p.offset) >= 0 ? Number(p.offset) : low.get(p.partition)!]));
    }
    if (start.kind === 'time') {
      const atTime = await admin.fetchTopicOffsetsByTimestamp(topic, start.at);
      return new Map(atTime.map((p) => [p.partition, Number(p.offset)]));
    }
    return new Map([...low].map(([partition, first]) => [partition, start.kind === 'offset' ? Math.max(first, start.offset) : first]));
  }

  private async estimate(total: number, promptVersion: string | undefined): Promise<void> {
    const env = cliConfig();
    const dataSource = await openDatabase(env.DATABASE_URL, 2);
    try {
      const [avg] = await dataSource.query(`SELECT avg(cost_usd)::float8 AS cost FROM results WHERE status = 'succeeded' AND attempt > 0`);
      const perRequest = Number(avg?.cost ?? 0);
      process.stdout.write(
        `up to ${total} events would be re-processed${promptVersion ? ` for prompt version ${promptVersion}` : ' (the current prompt version: already analysed ones cost $0)'}; ` +
          `estimated cost at most $${(total * perRequest).toFixed(4)} (${total} × $${perRequest.toFixed(6)}, the average cost of an analysis so far)\n`,
      );
    } finally {
      await dataSource.destroy();
    }
  }

  private async replay(
    consumer: Consumer,
    publisher: EventPublisher,
    topic: string,
    ends: Map<number, number>,
    starts: Map<number, number>,
    budget: number,
    total: number,
    promptVersion: string | undefined,
  ): Promise<void> {
    const bar = new SingleBar({ format: 'replay {bar} {value}/{total} events | {skipped} unreadable | {echoes} earlier replays', stream: process.stderr, noTTYOutput: true, notTTYSchedule: 3_000 });
    bar.start(budget, 0, { skipped: 0, echoes: 0 });
    let done = 0;
    let skipped = 0;
    let echoes = 0;
    const remaining = new Set([...ends].filter(([partition, high]) => (starts.get(partition) ?? high) < high).map(([partition]) => partition));
    await publisher.connect();
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const stop = () => finish();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    await consumer.run({
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary }) => {
        const high = ends.get(batch.partition) ?? 0;
        // With --limit, stop after that many events: the commits below make the next run resume there.
        const messages = batch.messages.filter((m) => Number(m.offset) < high).slice(0, Math.max(0, budget - done));
        if (messages.length === 0) {
          if (done >= budget) finish();
          return;
        }
        const events = [];
        for (const message of messages) {
          const decoded = decodeEvent(Topic.PrIngested, message.value);
          if (!decoded.ok) {
            skipped++;
            continue;
          }
          const original = decoded.event;
          // Events a replay published are re-feeds, not history: replaying them again would feed on itself.
          if (original.producer === REPLAY_PRODUCER) {
            echoes++;
            continue;
          }
          const payload: PrIngestedPayload = promptVersion ? { ...original.payload, promptVersion } : original.payload;
          events.push(
            publisher.encode(
              Topic.PrIngested,
              createEvent(Topic.PrIngested, payload, { correlationId: original.correlationId, causationId: original.eventId, producer: REPLAY_PRODUCER }),
            ),
          );
        }
        // Published before the offsets move: a stop between the two re-publishes, never skips.
        await publisher.send(events);
        for (const message of messages) resolveOffset(message.offset);
        await commitOffsetsIfNecessary();
        await heartbeat();
        done += messages.length;
        bar.update(done, { skipped, echoes });
        if (messages.length > 0 && Number(messages[messages.length - 1]!.offset) >= high - 1) remaining.delete(batch.partition);
        if (remaining.size === 0 || done >= budget) finish();
      },
    });
    if (remaining.size === 0) finish();
    await finished;
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await consumer.disconnect();
    await publisher.disconnect();
    bar.stop();
    process.stdout.write(
      `replayed ${done - skipped - echoes} PR events${promptVersion ? ` for prompt version ${promptVersion}` : ''}; ` +
        `${skipped} unreadable and ${echoes} earlier replays skipped${done < total ? `; stopped at ${done}/${total}: run again to resume` : ''}\n`,
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
    // Refused here, before any event is read or sent: the version needs a folder in prompts/.
    assertKnownPromptVersion(value);
    return value;
  }

  @Option({ flags: '--dry-run', description: 'print how many events would be re-processed and the estimated cost' })
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
