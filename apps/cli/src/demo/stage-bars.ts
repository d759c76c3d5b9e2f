import { MultiBar, Presets } from 'cli-progress';
import type { DataSource } from 'typeorm';
import { stageCounts, type StageCounts } from './progress.js';

/**
 * A progress bar per stage (ingested, submitted, pass 1 done, retried, merged), refreshed from the
 * database until `done` says so or the time runs out. Prints periodic lines when not on a terminal.
 */
export async function followStages(
  dataSource: DataSource,
  total: number,
  timeoutMs: number,
  done: (counts: StageCounts) => boolean,
): Promise<boolean> {
  const bars = new MultiBar(
    { format: ' {stage} |{bar}| {value}/{total}', hideCursor: true, clearOnComplete: false, stream: process.stderr, noTTYOutput: true, notTTYSchedule: 3_000 },
    Presets.shades_classic,
  );
  const bar = (stage: string) => bars.create(Math.max(total, 1), 0, { stage: stage.padEnd(11) });
  const ingested = bar('ingested');
  const submitted = bar('submitted');
  const passOne = bar('pass 1 done');
  const retried = bar('retried');
  const merged = bar('merged');
  const deadline = Date.now() + timeoutMs;
  let finished = false;
  while (Date.now() < deadline) {
    const counts = await stageCounts(dataSource);
    const processable = Math.max(counts.ingested - counts.excluded, 1);
    ingested.setTotal(Math.max(total, counts.ingested, 1));
    ingested.update(counts.ingested);
    // Excluded PRs are never sent: the submission bars count the processable ones.
    submitted.setTotal(processable);
    passOne.setTotal(processable);
    submitted.update(counts.submitted);
    passOne.update(counts.passOneDone);
    retried.setTotal(Math.max(counts.passOneFailed, 1));
    retried.update(counts.retried);
    merged.setTotal(Math.max(total, counts.ingested, 1));
    merged.update(counts.merged);
    if (done(counts)) {
      finished = true;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  bars.stop();
  return finished;
}
