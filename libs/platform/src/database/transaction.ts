import type { DataSource, EntityManager } from 'typeorm';

/**
 * PostgreSQL errors that a fresh attempt of the same transaction can succeed after, whatever it does.
 * An integrity violation (class 23) is not one of them: a lost race and a constraint bug look alike, and
 * the caller that owns the work owns that budget (the event inbox: CONSUMER_MAX_HANDLER_ATTEMPTS).
 */
const RETRYABLE_SQLSTATES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
]);

const INTEGRITY_VIOLATIONS: Record<string, string> = {
  '23502': 'not-null violation',
  '23503': 'foreign-key violation',
  '23505': 'unique violation',
  '23514': 'check violation',
  '23P01': 'exclusion violation',
};

/** An error PostgreSQL raised (it carries a five-character SQLSTATE). */
export function isDatabaseError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
}

/**
 * What went wrong, fit for a dead letter or a log: an integrity violation names its constraint and table,
 * never the values (PostgreSQL's `detail` carries them: a PR's text, a request id).
 */
export function describeDatabaseError(error: unknown): string {
  const { code, constraint, table, message } = (error ?? {}) as { code?: unknown; constraint?: unknown; table?: unknown; message?: unknown };
  if (typeof code === 'string' && code.startsWith('23')) {
    const kind = INTEGRITY_VIOLATIONS[code] ?? 'integrity violation';
    const where = `${typeof constraint === 'string' ? ` on constraint "${constraint}"` : ''}${typeof table === 'string' ? ` of table "${table}"` : ''}`;
    return `${kind} (SQLSTATE ${code})${where}`;
  }
  return typeof message === 'string' ? message : String(error);
}

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
 * serialization failures and deadlocks are retried a bounded number of times, nothing else.
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
