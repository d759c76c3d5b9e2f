import { listBatches } from '#ledger';
import Groq from 'groq-sdk';
import { syntheticPrs } from '../../apps/cli/src/demo/synthetic-prs.js';
import { eventually } from '../support/infra.js';
import { usePipeline } from '../support/pipeline.js';

/** POLL_INPUT_CLEANUP_RETRY_MS here: a refused delete is tried again within a few seconds, not a minute. */
const RETRY_MS = 2_000;
const DELETE_ROUTE = 'DELETE /openai/v1/files/{id}';

interface BatchRow {
  batch_id: string;
  state: string;
  input_file_id: string;
  finished_at: Date | null;
  input_file_deleted_at: Date | null;
}

describe('input files deleted at the provider once a batch is finished and recorded (real broker, PostgreSQL, simulator)', () => {
  const fixture = usePipeline({ name: 'cleanup', simulator: { seed: 41 }, services: { env: { POLL_INPUT_CLEANUP_RETRY_MS: String(RETRY_MS) } } });
  const groq = () => new Groq({ apiKey: 'fake-pipeline-test-key', baseURL: fixture.sim.url, maxRetries: 1 });
  const prs = syntheticPrs({ count: 40, seed: 17 }).filter((pr) => pr.body.trim() !== '');
  let published = 0;

  const batches = (): Promise<BatchRow[]> =>
    fixture.db.dataSource.query(`SELECT batch_id, state, input_file_id, finished_at, input_file_deleted_at FROM batches ORDER BY created_at`);
  const filesAtProvider = async () => new Set((await groq().files.list()).data.map((file) => file.id));
  const deleteCalls = () => fixture.sim.stats().calls[DELETE_ROUTE] ?? 0;

  /** Publishes PRs and waits until every batch they made is finished and its input file recorded as deleted. */
  async function runToCleanup(count: number): Promise<BatchRow[]> {
    const before = new Set((await batches()).map((b) => b.batch_id));
    await fixture.publish(prs.slice(published, published + count));
    published += count;
    await fixture.settled(published, 120_000);
    return eventually('every new batch finished with its input file deleted', async () => {
      const fresh = (await batches()).filter((b) => !before.has(b.batch_id));
      return fresh.length > 0 && fresh.every((b) => b.state === 'finished' && b.input_file_deleted_at !== null) ? fresh : null;
    }, 30_000);
  }

  it('deletes each finished batch\'s input file right after recording it, and shows when in GET /batches', async () => {
    const finished = await runToCleanup(20);
    const remaining = await filesAtProvider();
    for (const batch of finished) {
      expect(remaining.has(batch.input_file_id)).toBe(false);
      expect(batch.input_file_deleted_at!.getTime()).toBeGreaterThanOrEqual(batch.finished_at!.getTime());
    }
    // One delete a batch: no sweep had anything left to retry.
    expect(deleteCalls()).toBe(finished.length);
    const listed = await listBatches(fixture.db.dataSource.manager, {});
    expect(listed.every((b) => b.input_file_deleted_at instanceof Date)).toBe(true);
  }, 180_000);

  it('a delete the provider refuses leaves the batch finished, and the sweep deletes the file later', async () => {
    // One 429 whose retry-after is beyond GROQ_MAX_RETRY_AFTER_MS: the client gives up at once, the poller's delete fails.
    fixture.sim.setFaults({ rateLimitFirst: 1, rateLimitRoute: DELETE_ROUTE, rateLimitRetryAfterMs: 600_000 });
    const callsBefore = deleteCalls();
    const finished = await runToCleanup(1);
    fixture.sim.setFaults({ rateLimitFirst: 0, rateLimitRoute: null, rateLimitRetryAfterMs: 200 });

    const remaining = await filesAtProvider();
    for (const batch of finished) expect(remaining.has(batch.input_file_id)).toBe(false);
    // The refused one was deleted by the sweep, at least RETRY_MS after the finish; the others right away.
    const late = finished.filter((b) => b.input_file_deleted_at!.getTime() - b.finished_at!.getTime() >= RETRY_MS);
    expect(late).toHaveLength(1);
    expect(deleteCalls() - callsBefore).toBe(finished.length + 1);
  }, 180_000);

  it('an input file already gone at the provider (404) counts as deleted', async () => {
    // Batches stay at the provider long enough for the test to delete the input file before the poller does.
    fixture.sim.setSpeed({ stageDelayMs: 1_500 });
    const before = new Set((await batches()).map((b) => b.batch_id));
    const callsBefore = deleteCalls();
    await fixture.publish(prs.slice(published, published + 1));
    published += 1;
    const submitted = await eventually('the batch submitted', async () =>
      (await batches()).find((b) => !before.has(b.batch_id) && b.state === 'submitted' && b.input_file_id),
    );
    await groq().files.delete(submitted.input_file_id);
    fixture.sim.setSpeed({ stageDelayMs: 0 });

    await fixture.settled(published, 120_000);
    const batch = await eventually('the input file recorded as deleted', async () => {
      const row = (await batches()).find((b) => b.batch_id === submitted.batch_id);
      return row?.input_file_deleted_at ? row : null;
    }, 30_000);
    expect(batch.state).toBe('finished');
    // Our delete and the poller's (answered 404) at least; a 404 taken for a failure would never be recorded.
    expect(deleteCalls() - callsBefore).toBeGreaterThanOrEqual(2);
  }, 180_000);
});
