import { randomBytes } from 'node:crypto';
import { ALL_TOPICS, decodeEvent, Topic } from '#contracts';
import { type DeadLetter, listDeadLetters, markRedriven } from '#ledger';
import { consumerGroupOf, DLQ_HEADERS, EventPublisher, type OutgoingMessage, topicName } from '#platform';
import { SingleBar } from 'cli-progress';
import type { IHeaders, Kafka } from 'kafkajs';
import { Command, CommandRunner, Option, SubCommand } from 'nest-commander';
import type { DataSource } from 'typeorm';
import { type CliEnv, cliKafka, ensureCliTopics, fail, withDatabase } from '../cli-context.js';
import { positiveInteger } from './options.js';

/** Where a dead letter of `topic` is re-driven: pr.ingested.v1 is the topic of record and is never appended to. */
export function redriveTopicOf(topic: Topic): Topic {
  return topic === Topic.PrIngested ? Topic.PrReplayed : topic;
}

function parseTopic(value: string): Topic {
  const topic = ALL_TOPICS.find((t) => t === value);
  if (!topic) throw new Error(`--topic must be one of ${ALL_TOPICS.join(', ')}, got "${value}"`);
  return topic;
}

/** The contract topic of a physical topic name (prefix included), if it is one. */
function logicalTopic(physical: string, prefix: string): Topic | undefined {
  return ALL_TOPICS.find((topic) => topicName(topic, prefix) === physical);
}

function sourceKey(topic: string, partition: number, offset: string): string {
  return JSON.stringify([topic, partition, offset]);
}

function header(headers: IHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}

interface ListOptions {
  topic?: Topic;
  json?: boolean;
  limit?: number;
}

@SubCommand({ name: 'list', description: 'Dead letters, newest first: when, source topic and offset, request id, reason, and whether re-driven (never PR text)' })
export class DlqListCommand extends CommandRunner {
  async run(_params: string[], options: ListOptions): Promise<void> {
    const rows = await withDatabase((ds, env) =>
      listDeadLetters(ds.manager, { topics: options.topic ? [topicName(options.topic, env.KAFKA_TOPIC_PREFIX)] : undefined, limit: options.limit ?? 100 }),
    );
    if (options.json) {
      process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      return;
    }
    if (rows.length === 0) {
      process.stdout.write(`no dead letters${options.topic ? ` from ${options.topic}` : ''}\n`);
      return;
    }
    const lines = rows.map((row) =>
      [
        row.deadLetteredAt,
        `${row.topic}[${row.partition}]@${row.offset}`,
        `request ${row.requestId === null ? '-' : JSON.stringify(row.requestId)}${row.promptVersion ? ` (${row.promptVersion})` : ''}`,
        row.redrivenAt ? `re-driven ${row.redrivenAt}` : 'not re-driven',
        `${row.reason}${row.path ? ` at ${row.path}` : ''}`,
      ].join('  '),
    );
    process.stdout.write(`${lines.join('\n')}\n`);
  }

  @Option({ flags: '--topic <topic>', description: 'only dead letters of this contract topic (e.g. pr.ingested.v1)' })
  parseTopic(value: string): Topic {
    return parseTopic(value);
  }

  @Option({ flags: '--json', description: 'print as JSON' })
  parseJson(): boolean {
    return true;
  }

  @Option({ flags: '--limit <n>', description: 'at most this many, newest first (default 100)' })
  parseLimit(value: string): number {
    return positiveInteger('--limit', value);
  }
}

interface ReplayOptions {
  topic?: Topic;
  requestId?: string;
  dryRun?: boolean;
}

interface Pending {
  source: Topic;
  destination: Topic;
  letters: DeadLetter[];
}

/**
 * Re-drives dead letters after a fix: reads `<topic>.dlq` from its start, and for each source message
 * with a dead letter not yet re-driven publishes the ORIGINAL bytes again (pr.ingested.v1 ones to
 * pr.replayed.v1, others to their own topic), then marks them re-driven. A source message is published
 * once even if the DLQ holds it twice; consumers drop what they already processed by eventId.
 */
@SubCommand({ name: 'replay', description: 'Re-drive the dead letters not yet re-driven (pr.ingested.v1 ones to pr.replayed.v1), then mark them re-driven' })
export class DlqReplayCommand extends CommandRunner {
  async run(_params: string[], options: ReplayOptions): Promise<void> {
    await withDatabase(async (ds, env) => {
      const prefix = env.KAFKA_TOPIC_PREFIX;
      const letters = await listDeadLetters(ds.manager, {
        topics: options.topic ? [topicName(options.topic, prefix)] : undefined,
        requestId: options.requestId,
        pendingOnly: true,
      });
      const pending = new Map<string, Pending>();
      const unknown: DeadLetter[] = [];
      for (const letter of letters) {
        const source = logicalTopic(letter.topic, prefix);
        if (!source) {
          unknown.push(letter);
          continue;
        }
        const key = sourceKey(letter.topic, letter.partition, letter.offset);
        const entry = pending.get(key) ?? { source, destination: redriveTopicOf(source), letters: [] };
        entry.letters.push(letter);
        pending.set(key, entry);
      }
      if (unknown.length > 0) {
        process.stderr.write(`${unknown.length} dead letters come from topics that are not contract topics under the prefix "${prefix}" (e.g. ${unknown[0]!.topic}): skipped\n`);
      }
      if (pending.size === 0) {
        process.stdout.write(`nothing to re-drive: no dead letter${options.topic ? ` of ${options.topic}` : ''}${options.requestId ? ` for request ${JSON.stringify(options.requestId)}` : ''} is waiting\n`);
        if (unknown.length > 0) process.exitCode = 1;
        return;
      }
      if (options.dryRun) {
        process.stdout.write(this.describe('would re-drive', [...pending.values()]));
        return;
      }
      const outcome = await this.redrive(ds, env, pending);
      const done = [...pending].filter(([key]) => outcome.redriven.has(key)).map(([, entry]) => entry);
      process.stdout.write(done.length > 0 ? this.describe('re-drove', done) : 're-drove nothing\n');
      const missing = [...pending.keys()].filter((key) => !outcome.redriven.has(key) && !outcome.refused.has(key));
      for (const [key, reason] of outcome.refused) {
        const [topic, partition, offset] = JSON.parse(key) as [string, number, string];
        process.stderr.write(`still refused by the contract, not re-driven: ${topic}[${partition}]@${offset}: ${reason}\n`);
      }
      if (missing.length > 0) {
        process.stderr.write(`${missing.length} dead letters have no entry left in their DLQ topic (deleted or past retention): not re-driven\n`);
      }
      if (missing.length > 0 || outcome.refused.size > 0 || unknown.length > 0) process.exitCode = 1;
    });
  }

  private describe(verb: string, entries: Pending[]): string {
    const byReason = new Map<string, number>();
    for (const entry of entries) {
      const reason = entry.letters[0]!.reason;
      const line = `${entry.source} -> ${entry.destination}: ${reason}${entry.letters[0]!.path ? ` at ${entry.letters[0]!.path}` : ''}`;
      byReason.set(line, (byReason.get(line) ?? 0) + 1);
    }
    const lines = [...byReason].sort((a, b) => b[1] - a[1]).map(([line, count]) => `  ${String(count).padStart(6)}  ${line}`);
    return `${verb} ${entries.length} dead-lettered messages, by reason:\n${lines.join('\n')}\n`;
  }

  private async redrive(ds: DataSource, env: CliEnv, pending: Map<string, Pending>): Promise<{ redriven: Set<string>; refused: Map<string, string> }> {
    const kafka = cliKafka(env);
    await ensureCliTopics(kafka, env);
    const dlqTopics = [...new Set([...pending.values()].flatMap((entry) => entry.letters.map((letter) => letter.dlqTopic)))];
    const ends = await this.endOffsets(kafka, dlqTopics);
    const redriven = new Set<string>();
    const refused = new Map<string, string>();
    const remaining = new Set([...ends].filter(([, range]) => range.high > range.low).map(([partition]) => partition));
    if (remaining.size === 0) return { redriven, refused };

    const publisher = new EventPublisher(kafka, env.KAFKA_TOPIC_PREFIX);
    const groupId = `${consumerGroupOf('dlq-replay', env.KAFKA_TOPIC_PREFIX)}-${randomBytes(4).toString('hex')}`;
    const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
    const bar = new SingleBar({ format: 'dlq replay {bar} {value}/{total} dead letters | {scanned} DLQ entries read', stream: process.stderr, noTTYOutput: true, notTTYSchedule: 3_000 });
    bar.start(pending.size, 0, { scanned: 0 });
    let scanned = 0;
    let finish!: (error?: unknown) => void;
    const finished = new Promise<void>((resolve, reject) => (finish = (error) => (error ? reject(error as Error) : resolve())));
    const stop = () => finish(new Error('interrupted: what was published is marked re-driven; run again to finish'));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      await publisher.connect();
      await consumer.connect();
      await consumer.subscribe({ topics: dlqTopics, fromBeginning: true });
      await consumer.run({
        eachBatch: async ({ batch, heartbeat }) => {
          const partitionKey = JSON.stringify([batch.topic, batch.partition]);
          const high = ends.get(partitionKey)?.high ?? 0;
          const outgoing: OutgoingMessage[] = [];
          const sources: Array<{ topic: string; partition: number; offset: string }> = [];
          const keys: string[] = [];
          for (const message of batch.messages) {
            if (Number(message.offset) >= high) break;
            scanned++;
            const topic = header(message.headers, DLQ_HEADERS.originalTopic);
            const partition = Number(header(message.headers, DLQ_HEADERS.originalPartition));
            const offset = header(message.headers, DLQ_HEADERS.originalOffset);
            if (!topic || !Number.isInteger(partition) || !offset) continue;
            const key = sourceKey(topic, partition, offset);
            const entry = pending.get(key);
            if (!entry || redriven.has(key) || refused.has(key) || keys.includes(key)) continue;
            // Re-publishing what the contract still refuses would only dead-letter it again.
            const decoded = decodeEvent(entry.destination, message.value);
            if (!decoded.ok) {
              refused.set(key, `${decoded.violation.reason}${decoded.violation.path ? ` at ${decoded.violation.path}` : ''}`);
              continue;
            }
            outgoing.push({
              topic: topicName(entry.destination, env.KAFKA_TOPIC_PREFIX),
              key: message.key === null ? null : message.key.toString('utf8'),
              value: message.value!,
              headers: { 'cascade-redriven-from': `${topic}[${partition}]@${offset}` },
            });
            sources.push({ topic, partition, offset });
            keys.push(key);
          }
          // Published before they are marked: a stop in between re-publishes them next time, never loses them.
          await publisher.send(outgoing);
          await markRedriven(ds.manager, sources);
          for (const key of keys) redriven.add(key);
          bar.update(redriven.size + refused.size, { scanned });
          await heartbeat();
          if (batch.messages.some((message) => Number(message.offset) >= high - 1)) remaining.delete(partitionKey);
          if (remaining.size === 0 || redriven.size + refused.size === pending.size) finish();
        },
      });
      await finished;
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      bar.stop();
      await consumer.disconnect().catch(() => undefined);
      await publisher.disconnect().catch(() => undefined);
      await this.deleteGroup(kafka, groupId);
    }
    return { redriven, refused };
  }

  /** Per DLQ partition, the range to read: what is there now (later entries are for a later run). */
  private async endOffsets(kafka: Kafka, topics: string[]): Promise<Map<string, { low: number; high: number }>> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const ranges = new Map<string, { low: number; high: number }>();
      for (const topic of topics) {
        for (const p of await admin.fetchTopicOffsets(topic)) ranges.set(JSON.stringify([topic, p.partition]), { low: Number(p.low), high: Number(p.high) });
      }
      return ranges;
    } finally {
      await admin.disconnect();
    }
  }

  private async deleteGroup(kafka: Kafka, groupId: string): Promise<void> {
    const admin = kafka.admin();
    try {
      await admin.connect();
      await admin.deleteGroups([groupId]);
    } catch {
      // A leftover group of a finished re-drive holds nothing: not worth failing the command for.
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  @Option({ flags: '--topic <topic>', description: 'only dead letters of this contract topic (e.g. pr.ingested.v1)' })
  parseTopic(value: string): Topic {
    return parseTopic(value);
  }

  @Option({ flags: '--request-id <id>', description: 'only the dead letters of this request id' })
  parseRequestId(value: string): string {
    return value;
  }

  @Option({ flags: '--dry-run', description: 'print what would be re-driven, by reason, and change nothing' })
  parseDryRun(): boolean {
    return true;
  }
}

@Command({ name: 'dlq', description: 'Dead letters: list them, or re-drive them after a fix', subCommands: [DlqListCommand, DlqReplayCommand] })
export class DlqCommand extends CommandRunner {
  async run(): Promise<void> {
    fail('usage: cascade dlq list [--topic T] [--json] [--limit N] | cascade dlq replay [--dry-run] [--topic T] [--request-id ID]');
  }
}
