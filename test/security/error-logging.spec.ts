import { createRootLogger } from '#platform';
import { QueryFailedError } from 'typeorm';

const PR_BODY = 'CONFIDENTIAL PR BODY: migrate the billing ledger before Friday';

/** What node-postgres throws for a bad jsonb value: the row and the JSON it was parsing are quoted. */
function driverError(): Error {
  return Object.assign(new Error('invalid input syntax for type json'), {
    severity: 'ERROR',
    code: '22P02',
    detail: `Token "${PR_BODY}" is invalid.`,
    where: `JSON data, line 1: {"body": "${PR_BODY}`,
    hint: `near ${PR_BODY}`,
    internalQuery: `SELECT '${PR_BODY}'`,
    routine: 'json_errsave_error',
  });
}

/** The logger's own error serialiser decides what of a failed query reaches a log line: never the values. */
describe('logging a failed query', () => {
  const lines: string[] = [];
  const logger = createRootLogger('poller', 'info', [], { write: (line: string) => lines.push(line) });
  const failure = () => new QueryFailedError('INSERT INTO requests (request_id, pr) VALUES ($1, $2::jsonb)', ['acme/api#1', JSON.stringify({ body: PR_BODY })], driverError());

  beforeEach(() => lines.splice(0));

  it('is a real TypeORM QueryFailedError carrying the body in parameters and the driver fields', () => {
    const error = failure();
    expect(JSON.stringify(error.parameters)).toContain('CONFIDENTIAL PR BODY');
    expect((error as unknown as { detail: string }).detail).toContain('CONFIDENTIAL PR BODY');
  });

  it.each([
    ['under err', () => logger.error({ err: failure() }, 'insert failed')],
    ['under error', () => logger.error({ error: failure() }, 'insert failed')],
    ['as the first argument', () => logger.error(failure(), 'insert failed')],
    ['in a child logger', () => logger.child({ component: 'inbox' }).warn({ err: failure(), requestId: 'acme/api#1' }, 'handler failed')],
  ])('logs no PR text %s, and keeps what diagnoses it', (_how, log) => {
    log();
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    expect(line).not.toContain('CONFIDENTIAL PR BODY');
    expect(line).not.toContain('parameters');
    expect(line).not.toContain('driverError');
    const entry = JSON.parse(line) as Record<string, { message?: string; code?: string; query?: string }>;
    const logged = entry.err ?? entry.error!;
    expect(logged).toMatchObject({ message: 'invalid input syntax for type json', code: '22P02', query: expect.stringContaining('INSERT INTO requests') });
  });
});
