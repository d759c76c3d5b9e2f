import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { PeriodicTask } from './periodic-task.js';

/** A pass that records when it runs and how many run at once, and ends when told (or after `ms`). */
function recordedPass(ms = 0) {
  const record = { starts: [] as number[], ends: [] as number[], concurrent: 0, maxConcurrent: 0, release: () => undefined as void };
  const pass = async () => {
    record.starts.push(Date.now());
    record.maxConcurrent = Math.max(record.maxConcurrent, ++record.concurrent);
    await (ms > 0 ? sleep(ms) : new Promise<void>((done) => (record.release = done)));
    record.concurrent--;
    record.ends.push(Date.now());
  };
  return { record, pass };
}

const until = async (condition: () => boolean) => {
  for (let waited = 0; !condition(); waited += 2) {
    if (waited > 2_000) throw new Error('condition not met within 2 s');
    await sleep(2);
  }
};

describe('PeriodicTask', () => {
  const lines: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
  beforeEach(() => (lines.length = 0));

  it('runs the first pass at start, each next one the interval after the previous ended, never two at once', async () => {
    const { record, pass } = recordedPass(15);
    const task = new PeriodicTask(pass, logger, { intervalMs: 10, failureMessage: 'failed' });
    task.start();
    task.start();
    await until(() => record.ends.length >= 3);
    await task.stop();
    expect(record.maxConcurrent).toBe(1);
    for (let i = 1; i < record.ends.length; i++) expect(record.starts[i]! - record.ends[i - 1]!).toBeGreaterThanOrEqual(9);
  });

  it('stop() waits for the running pass, and none starts after it', async () => {
    const { record, pass } = recordedPass();
    const task = new PeriodicTask(pass, logger, { intervalMs: 1, failureMessage: 'failed' });
    expect(task.stopped).toBe(true);
    task.start();
    expect(task.stopped).toBe(false);
    await until(() => record.starts.length === 1);
    let stopped = false;
    const stopping = task.stop().then(() => (stopped = true));
    expect(task.stopped).toBe(true);
    await sleep(10);
    expect(stopped).toBe(false);
    record.release();
    await stopping;
    await sleep(20);
    expect(record.starts).toHaveLength(1);
  });

  it('restarted while a pass still runs, starts the next one only when it ends', async () => {
    const { record, pass } = recordedPass();
    const task = new PeriodicTask(pass, logger, { intervalMs: 1, failureMessage: 'failed' });
    task.start();
    await until(() => record.starts.length === 1);
    void task.stop();
    task.start();
    await sleep(10);
    expect(record.starts).toHaveLength(1);
    record.release();
    await until(() => record.starts.length === 2);
    expect(record.maxConcurrent).toBe(1);
    const stopping = task.stop();
    record.release();
    await stopping;
  });

  it('logs a failed pass with its error and goes on', async () => {
    let runs = 0;
    const task = new PeriodicTask(
      async () => {
        if (++runs === 1) throw new Error('database away');
      },
      logger,
      { intervalMs: 1, failureMessage: 'pass failed; will retry' },
    );
    task.start();
    await until(() => runs >= 3);
    await task.stop();
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 40, msg: 'pass failed; will retry', err: { message: 'database away' } });
  });

  it('keeps the process alive while waiting, unless unref', async () => {
    const { pass } = recordedPass(1);
    for (const unref of [false, true]) {
      const task = new PeriodicTask(pass, logger, { intervalMs: 60_000, failureMessage: 'failed', unref });
      task.start();
      // The timer is set once the first pass has run: wait for it, not for a fixed time.
      const timerOf = () => (task as unknown as { timer: NodeJS.Timeout | null }).timer;
      await until(() => timerOf() !== null);
      expect(timerOf()!.hasRef()).toBe(!unref);
      await task.stop();
    }
  });
});
