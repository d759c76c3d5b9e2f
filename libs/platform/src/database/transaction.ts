import type { DataSource, EntityManager } from 'typeorm';

/** PostgreSQL errors that a fresh attempt of the same transaction can succeed after. */
const RETRYABLE_SQLSTATES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '23505', // unique_violation: a concurrent writer won a race the next attempt will see
]);

export function isRetryableDatabaseError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && RETRYABLE_SQLSTATES.has(code);
}

/** Connection-level failures (database down or restarting): the work must wait, not be dead-lettered. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (code.startsWith('08') || code === '57P01' || code === '57P03' || code === 'ECONNREFUSED')) {
    return true;
  }
  const message = (error as Error | null)?.message ?? '';
  return /ECONNREFUSED|Connection terminated|connection timeout|terminating connection|the database system is (starting up|shutting down)/i.test(message);
}

/**
 * Runs `work` in one transaction. A failure rolls back and releases the connection before anything
 * else happens, so an error never leaves a half-open session behind (the PendingRollbackError cascade);
 * races and deadlocks are retried a bounded number of times.
 */
export async function inTransaction<T>(
  dataSource: DataSource,
  work: (manager: EntityManager) => Promise<T>,
  attempts = 3,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await dataSource.transaction((manager) => work(manager));
    } catch (error) {
      if (attempt >= attempts || !isRetryableDatabaseError(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20 * 2 ** attempt + Math.random() * 20));
    }
  }
}

/**
 * TypeORM returns `[rows, rowCount]` for UPDATE and DELETE (plain rows for everything else):
 * this gives the rows of any statement with RETURNING.
 */
export function returnedRows<T>(result: unknown): T[] {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') {
    return result[0] as T[];
  }
  return result as T[];
}
