/** Thrown by a probe to stop waiting at once (the thing waited for can no longer happen). */
export class GiveUp extends Error {}

export interface EventuallyOptions {
  /** Time between two probes (ms). */
  intervalMs?: number;
  /** Further errors this wait may retry, beyond those `isNotThereYet` accepts. */
  retryOn?: (error: unknown) => boolean;
}

/** Node's network errors of a peer that is not (or no longer) listening, or is restarting. */
const NETWORK_NOT_READY = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * PostgreSQL SQLSTATEs of a server that is starting, stopping or busy, and of a table another process
 * has not created yet (`42P01`). A syntax error, an unknown column or a violated constraint are not here.
 */
const POSTGRES_NOT_READY = new Set(['42P01', '53300', '57P01', '57P02', '57P03', '40001', '40P01']);

/** What the pg driver says, without a code, when the server goes away under a connection. */
const POSTGRES_CONNECTION_LOST = /^Connection terminated|timeout exceeded when trying to connect/;

/** The error itself and what it wraps (`cause`, or kafkajs' `originalError`), nearest first. */
function chain(error: unknown): Array<Record<string, unknown>> {
  const links: Array<Record<string, unknown>> = [];
  let current: unknown = error;
  while (current && typeof current === 'object' && links.length < 8 && !links.includes(current as Record<string, unknown>)) {
    const link = current as Record<string, unknown>;
    links.push(link);
    current = link.cause ?? link.originalError;
  }
  return links;
}

/** A failed jest `expect(...)`: the probe's condition does not hold yet. */
export function isFailedAssertion(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'matcherResult' in error;
}

/**
 * Errors that say "not there yet" rather than "wrong": a failed expect() inside the probe, and the
 * refusals of a broker, a database or an HTTP server that is still starting, restarting or creating
 * its topics and tables. Checked along the error's `cause` chain, so `fetch failed` caused by
 * ECONNREFUSED counts.
 * - jest: the error carries `matcherResult`.
 * - network: a Node error code in NETWORK_NOT_READY.
 * - PostgreSQL: a SQLSTATE in POSTGRES_NOT_READY or class 08 (connection exception), or the driver's
 *   "Connection terminated" message.
 * - kafkajs: an error the client itself marks `retriable` (connection lost, unknown topic, leader
 *   not available, coordinator loading, rebalance in progress).
 * - Playwright: a `TimeoutError` (the element is not on the page yet).
 */
export function isNotThereYet(error: unknown): boolean {
  if (isFailedAssertion(error)) return true;
  return chain(error).some((link) => {
    const code = typeof link.code === 'string' ? link.code : '';
    if (NETWORK_NOT_READY.has(code)) return true;
    if (POSTGRES_NOT_READY.has(code) || /^08[0-9A-Z]{3}$/.test(code)) return true;
    if (typeof link.message === 'string' && POSTGRES_CONNECTION_LOST.test(link.message)) return true;
    if (typeof link.name === 'string' && link.name.startsWith('KafkaJS') && link.retriable === true) return true;
    return link.name === 'TimeoutError';
  });
}

const summary = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

/**
 * Polls `probe` until it returns a truthy value, then returns that value. The rule while waiting:
 * - a falsy value, or an error `isNotThereYet` (or `options.retryOn`) accepts: probe again, until
 *   `timeoutMs` has passed; then fail naming `what` and the last such error;
 * - `GiveUp`: fail at once (the probe knows the thing can no longer happen);
 * - any other error (a TypeError, a SQL syntax error, a 500 the probe did not expect): fail at once,
 *   naming `what`, with the error as `cause`. Waiting longer cannot fix a wrong probe or a broken service.
 */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false>,
  timeoutMs = 60_000,
  options: EventuallyOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      if (error instanceof GiveUp) throw error;
      if (!isNotThereYet(error) && !options.retryOn?.(error)) {
        throw new Error(`failed while waiting for ${what}: ${summary(error)}`, { cause: error });
      }
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${summary(last)}` : ''}`, { cause: last });
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 200));
  }
}
