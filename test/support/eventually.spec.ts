import { createServer as createHttpServer, type Server } from 'node:http';
import { KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } from 'kafkajs';
import { eventually, GiveUp, isNotThereYet } from './eventually.js';
import { freePort } from './ports.js';

const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });

/** A probe that answers from a list, one entry per call: a value to return or an error to throw. */
function scripted<T>(steps: Array<{ value: T } | { error: unknown }>) {
  let calls = 0;
  const probe = async () => {
    const step = steps[Math.min(calls++, steps.length - 1)]!;
    if ('error' in step) throw step.error;
    return step.value;
  };
  return { probe, calls: () => calls };
}

describe('eventually', () => {
  const fast = { intervalMs: 5 };

  it('returns the first truthy value, probing again after falsy ones', async () => {
    const { probe, calls } = scripted<number | null | false>([{ value: null }, { value: false }, { value: 0 }, { value: 42 }]);
    await expect(eventually('the answer', probe, 1_000, fast)).resolves.toBe(42);
    expect(calls()).toBe(4);
  });

  it('keeps probing while an expect() inside the probe fails, and reports that failure on timeout', async () => {
    let calls = 0;
    const probe = async () => {
      calls++;
      expect(calls).toBeGreaterThan(2);
      return true;
    };
    await expect(eventually('three calls', probe, 1_000, fast)).resolves.toBe(true);
    expect(calls).toBe(3);

    const never = async () => {
      expect('red').toBe('green');
      return true;
    };
    await expect(eventually('green', never, 50, fast)).rejects.toThrow(/^timed out waiting for green: .*toBe/s);
  });

  it('fails at once on an error that is not a failed assertion: a TypeError, a SQL syntax error, a non-retriable kafkajs error', async () => {
    for (const error of [
      new TypeError("Cannot read properties of undefined (reading 'n')"),
      pgError('42601', 'syntax error at or near "SELEC"'),
      pgError('42703', 'column "nope" does not exist'),
      pgError('23505', 'duplicate key value violates unique constraint "results_pkey"'),
      new KafkaJSNonRetriableError('Invalid topic name'),
      new RangeError('offset out of range'),
    ]) {
      const { probe, calls } = scripted([{ error }, { value: true }]);
      const started = Date.now();
      await expect(eventually('a broken probe', probe, 10_000, fast)).rejects.toThrow(`failed while waiting for a broken probe: ${error.name}: ${error.message}`);
      expect(calls()).toBe(1);
      expect(Date.now() - started).toBeLessThan(1_000);
    }
  });

  it('fails at once on GiveUp, with the GiveUp itself', async () => {
    const giveUp = new GiveUp('the service exited');
    const { probe, calls } = scripted([{ error: giveUp }, { value: true }]);
    await expect(eventually('ready', probe, 10_000, fast)).rejects.toBe(giveUp);
    expect(calls()).toBe(1);
  });

  it('keeps probing through the errors of something still starting: connection refused, a table not created yet, a retriable broker error', async () => {
    const starting = [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      pgError('42P01', 'relation "batches" does not exist'),
      pgError('57P03', 'the database system is starting up'),
      pgError('08006', 'connection failure'),
      new Error('Connection terminated unexpectedly'),
      new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:29092'),
      // What kafkajs builds from the broker's UNKNOWN_TOPIC_OR_PARTITION (a topic not created yet).
      new KafkaJSProtocolError(Object.assign(new Error('This server does not host this topic-partition'), { type: 'UNKNOWN_TOPIC_OR_PARTITION', code: 3, retriable: true })),
      new KafkaJSNumberOfRetriesExceeded(new KafkaJSConnectionError('Connection timeout'), { retryCount: 5, retryTime: 1_000 }),
    ];
    for (const error of starting) expect({ error: error.message, retried: isNotThereYet(error) }).toEqual({ error: error.message, retried: true });
    const { probe, calls } = scripted<string>([...starting.map((error) => ({ error })), { value: 'up' }]);
    await expect(eventually('the stack up', probe, 5_000, fast)).resolves.toBe('up');
    expect(calls()).toBe(starting.length + 1);
  });

  it('treats a real fetch to a port nobody listens on as not there yet, until the server listens', async () => {
    const port = await freePort();
    let server: Server | null = null;
    let refused = 0;
    const probe = async () => {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/`);
        return response.status;
      } catch (error) {
        refused++;
        // Once refused, start the server: the next probe gets through.
        if (!server) {
          server = createHttpServer((_request, response) => response.writeHead(204).end());
          await new Promise<void>((done) => server!.listen(port, '127.0.0.1', done));
        }
        throw error;
      }
    };
    try {
      await expect(eventually('the server', probe, 5_000, fast)).resolves.toBe(204);
      expect(refused).toBe(1);
    } finally {
      const listening = server as Server | null;
      listening?.closeAllConnections();
      await new Promise((done) => (listening ? listening.close(done) : done(undefined)));
    }
  });

  it('times out naming what it waited for and the last error, and retries what `retryOn` accepts', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    await expect(eventually('the broker', scripted([{ error: refused }]).probe, 30, fast)).rejects.toThrow(
      'timed out waiting for the broker: Error: connect ECONNREFUSED 127.0.0.1:1',
    );
    await expect(eventually('nothing', async () => false, 30, fast)).rejects.toThrow(/^timed out waiting for nothing$/);

    const busy = new Error('409 batch is finishing');
    const { probe, calls } = scripted([{ error: busy }, { error: busy }, { value: 'cancelled' }]);
    await expect(eventually('a cancel', probe, 1_000, { ...fast, retryOn: (error) => error === busy })).resolves.toBe('cancelled');
    expect(calls()).toBe(3);
  });
});
