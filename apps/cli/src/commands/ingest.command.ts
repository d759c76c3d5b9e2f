import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Topic } from '#contracts';
import { EventPublisher, type OutgoingMessage } from '#platform';
import { SingleBar } from 'cli-progress';
import { Command, CommandRunner, Option } from 'nest-commander';
import { cliConfig, cliKafka, ensureCliTopics, fail } from '../cli-context.js';
import { type LineProblem, parsePrLine } from './ingest-line.js';

@Command({ name: 'ingest', description: 'Publish PR events from a JSONL file (one PR per line), validating each line' })
export class IngestCommand extends CommandRunner {
  async run(_params: string[], options: { file?: string; dryRun?: boolean }): Promise<void> {
    if (!options.file) fail('ingest needs --file <prs.jsonl>');
    const env = cliConfig();
    if (!existsSync(options.file!)) fail(`no such file: ${options.file}`);
    const kafka = cliKafka(env);
    const publisher = new EventPublisher(kafka, env.KAFKA_TOPIC_PREFIX);
    if (!options.dryRun) {
      await ensureCliTopics(kafka, env);
      await publisher.connect();
    }
    const problems: LineProblem[] = [];
    const seen = new Set<string>();
    let published = 0;
    let pending: OutgoingMessage[] = [];
    const bar = new SingleBar({ format: 'ingest {bar} {value} lines | {published} published | {bad} bad', hideCursor: true, clearOnComplete: false, stream: process.stderr });
    bar.start(0, 0, { published: 0, bad: 0 });
    const flush = async () => {
      if (!options.dryRun) await publisher.send(pending);
      published += pending.length;
      pending = [];
    };
    let lineNumber = 0;
    const lines = createInterface({ input: createReadStream(options.file!, 'utf8'), crlfDelay: Infinity });
    try {
      for await (const text of lines) {
        lineNumber++;
        bar.setTotal(lineNumber);
        if (text.trim() === '') continue;
        const result = parsePrLine(text, lineNumber, 'ingest:');
        if ('problem' in result) problems.push(result);
        else if (seen.has(result.payload.requestId)) {
          problems.push({ line: lineNumber, requestId: result.payload.requestId, problem: 'requestId appears earlier in this file' });
        } else {
          seen.add(result.payload.requestId);
          try {
            pending.push(publisher.encode(Topic.PrIngested, result));
          } catch (error) {
            problems.push({ line: lineNumber, requestId: result.payload.requestId, problem: (error as Error).message });
          }
        }
        if (pending.length >= 500) await flush();
        bar.update(lineNumber, { published, bad: problems.length });
      }
      await flush();
      bar.update(lineNumber, { published, bad: problems.length });
    } finally {
      bar.stop();
      await publisher.disconnect();
    }
    for (const p of problems.slice(0, 100)) {
      process.stderr.write(`line ${p.line}${p.requestId ? ` (requestId ${p.requestId})` : ''}: ${p.problem}\n`);
    }
    if (problems.length > 100) process.stderr.write(`… and ${problems.length - 100} more bad lines\n`);
    process.stdout.write(`${options.dryRun ? 'validated' : 'published'} ${published} PR events; ${problems.length} bad lines\n`);
    if (problems.length > 0) process.exitCode = 1;
  }

  @Option({ flags: '-f, --file <path>', description: 'JSONL file of PRs (pr.ingested.v1 payloads or whole events)' })
  parseFile(value: string): string {
    return value;
  }

  @Option({ flags: '--dry-run', description: 'validate only, publish nothing' })
  parseDryRun(): boolean {
    return true;
  }
}
