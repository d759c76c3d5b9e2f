import { collectOutcomes } from './parse.js';
import { adoptableBatch, batchErrorsOf, describeBatchErrors, reconcileBatch } from './reconcile.js';
import { asyncLines, errorLine, jsonValidateFailedLine, REAL_ERROR_LINE, successLine, unfinishedLine } from './testing/groq-lines.js';

const codes = (failed: Array<{ customId: string; code: string }>) => Object.fromEntries(failed.map((f) => [f.customId, f.code]));

/** Each sent id is in exactly one of succeeded / failed; missing ⊂ failed. */
function expectEveryIdOnce(sent: string[], reconciled: ReturnType<typeof reconcileBatch>) {
  const accounted = [...reconciled.succeeded.map((s) => s.customId), ...reconciled.failed.map((f) => f.customId)];
  expect(accounted.sort()).toEqual([...sent].sort());
  for (const id of reconciled.missing) expect(codes(reconciled.failed)[id]).toBe('missing');
}

describe('reconcileBatch', () => {
  it('catches failures that appear only in the error file while the output file is fine (the bug that bit a real team)', async () => {
    const sent = ['pr-1', 'pr-2', 'pr-9953', 'pr-4'];
    const collected = await collectOutcomes([
      { source: 'output', lines: asyncLines(successLine('pr-2'), successLine('pr-1')) },
      { source: 'error', lines: asyncLines(REAL_ERROR_LINE, jsonValidateFailedLine('pr-4', '{"summ')) },
    ]);
    const reconciled = reconcileBatch(sent, { id: 'batch_01', status: 'completed' }, collected);
    expect(reconciled.succeeded.map((s) => s.customId)).toEqual(['pr-1', 'pr-2']);
    expect(codes(reconciled.failed)).toEqual({ 'pr-9953': 'json_validate_failed', 'pr-4': 'json_validate_failed' });
    expect(reconciled.failed.find((f) => f.customId === 'pr-4')).toMatchObject({ cause: 'provider_error', httpStatus: 400, failedGeneration: '{"summ', location: { source: 'error', lineNumber: 2 } });
    expect(reconciled.missing).toEqual([]);
    expectEveryIdOnce(sent, reconciled);
  });

  it('builds the failed set as error-file ids ∪ unusable lines ∪ unreadable lines ∪ absent ids', async () => {
    const sent = ['ok', 'from-error-file', 'schema-bad', 'too-long', 'truncated', 'absent'];
    const collected = await collectOutcomes([
      {
        source: 'output',
        lines: [
          successLine('ok'),
          successLine('schema-bad', { content: '{"summary": "x"}' }),
          successLine('too-long', { content: '{"summary": "a very long', finishReason: 'length' }),
          successLine('truncated').slice(0, 70),
        ],
      },
      { source: 'error', lines: [errorLine('from-error-file', 500, { message: 'Internal Server Error', type: 'internal_server_error' })] },
    ]);
    const reconciled = reconcileBatch(sent, 'completed', collected);
    expect(codes(reconciled.failed)).toEqual({
      'from-error-file': 'internal_server_error',
      'schema-bad': 'schema_invalid',
      'too-long': 'output_too_long',
      truncated: 'malformed_line',
      absent: 'missing',
    });
    expect(reconciled.failed.find((f) => f.customId === 'schema-bad')).toMatchObject({ cause: 'invalid_output', raw: '{"summary": "x"}' });
    expect(reconciled.missing).toEqual(['absent']);
    expectEveryIdOnce(sent, reconciled);
  });

  it('names ids found in the files that were never sent, without counting them', async () => {
    const collected = await collectOutcomes([{ source: 'output', lines: [successLine('pr-1'), successLine('stranger')] }]);
    const reconciled = reconcileBatch(['pr-1', 'pr-2'], 'completed', collected);
    expect(reconciled.unexpected).toEqual(['stranger']);
    expect(reconciled.succeeded.map((s) => s.customId)).toEqual(['pr-1']);
    expect(reconciled.failed).toEqual([expect.objectContaining({ customId: 'pr-2', code: 'missing', cause: 'missing', location: null })]);
  });

  it('points missing ids at unreadable lines that may have been theirs', async () => {
    const collected = await collectOutcomes([{ source: 'output', lines: ['{"id": "batch_req_out_1", "respo'] }]);
    const reconciled = reconcileBatch(['pr-1'], 'completed', collected);
    expect(reconciled.unreadable).toHaveLength(1);
    expect(reconciled.failed[0]!.message).toMatch(/1 unreadable line/);
  });

  it.each([
    ['expired', 'batch_expired'],
    ['cancelled', 'batch_cancelled'],
    ['failed', 'batch_failed'],
  ])('fails the unfinished requests of a %s batch with %s and keeps the finished ones', async (status, code) => {
    const collected = await collectOutcomes([
      { source: 'output', lines: [successLine('pr-1')] },
      { source: 'error', lines: [REAL_ERROR_LINE] },
    ]);
    const sent = ['pr-1', 'pr-9953', 'pr-3', 'pr-4'];
    const reconciled = reconcileBatch(sent, status, collected);
    expect(reconciled.succeeded.map((s) => s.customId)).toEqual(['pr-1']);
    expect(codes(reconciled.failed)).toEqual({ 'pr-9953': 'json_validate_failed', 'pr-3': code, 'pr-4': code });
    expect(reconciled.failed.filter((f) => f.code === code).every((f) => f.cause === 'unfinished')).toBe(true);
    expect(reconciled.missing).toEqual([]);
    expectEveryIdOnce(sent, reconciled);
  });

  it('handles an expired batch whose unfinished lines are in the error file, and one where they are absent, alike', async () => {
    const sent = ['done', 'late-1', 'late-2'];
    const present = await collectOutcomes([
      { source: 'output', lines: [successLine('done')] },
      { source: 'error', lines: [unfinishedLine('late-1', 'batch_expired'), unfinishedLine('late-2', 'batch_expired')] },
    ]);
    const absent = await collectOutcomes([{ source: 'output', lines: [successLine('done')] }]);
    for (const collected of [present, absent]) {
      const reconciled = reconcileBatch(sent, 'expired', collected);
      expect(codes(reconciled.failed)).toEqual({ 'late-1': 'batch_expired', 'late-2': 'batch_expired' });
      expectEveryIdOnce(sent, reconciled);
    }
  });

  it('fails every request of a batch that failed validation, with the provider errors in the message', () => {
    const errors = { object: 'list', data: [{ code: 'invalid_json_line', message: 'This line is not parseable as valid JSON.', param: null, line: 2 }] };
    const reconciled = reconcileBatch(['a', 'b'], { id: 'batch_02', status: 'failed', errors }, new Map());
    expect(reconciled.failed.map((f) => f.code)).toEqual(['batch_failed', 'batch_failed']);
    expect(reconciled.failed[0]!.message).toMatch(/invalid_json_line \(line 2\): This line is not parseable/);
    expect(reconciled.batchErrors).toBe('invalid_json_line (line 2): This line is not parseable as valid JSON.');
  });

  it('accounts for every id of an all-failed batch that has no output file', async () => {
    const sent = ['pr-9953', 'pr-2'];
    const collected = await collectOutcomes([{ source: 'error', lines: [REAL_ERROR_LINE, jsonValidateFailedLine('pr-2', '')] }]);
    const reconciled = reconcileBatch(sent, { id: 'batch_03', status: 'completed' }, collected);
    expect(reconciled.succeeded).toEqual([]);
    expect(codes(reconciled.failed)).toEqual({ 'pr-9953': 'json_validate_failed', 'pr-2': 'json_validate_failed' });
    expectEveryIdOnce(sent, reconciled);
  });

  it('carries the duplicates found in the files', async () => {
    const collected = await collectOutcomes([{ source: 'output', lines: [successLine('pr-1'), successLine('pr-1')] }]);
    expect(reconcileBatch(['pr-1'], 'completed', collected).duplicates).toHaveLength(1);
  });

  it('refuses a batch that is not terminal, and sent ids that repeat', () => {
    expect(() => reconcileBatch(['a'], { id: 'batch_04', status: 'in_progress' }, new Map())).toThrow(/batch batch_04 in status in_progress/);
    expect(() => reconcileBatch(['a'], 'cancelling', new Map())).toThrow(/cancelling/);
    expect(() => reconcileBatch(['a', 'b', 'a'], 'completed', new Map())).toThrow(/repeat a$/);
  });
});

describe('batch errors', () => {
  const data = [{ code: 'invalid_json_line', message: 'This line is not parseable as valid JSON.', param: null, line: 3 }];

  it('accepts a list object or a bare array', () => {
    expect(batchErrorsOf({ object: 'list', data })).toEqual(data);
    expect(batchErrorsOf(data)).toEqual(data);
    expect(describeBatchErrors(data)).toBe('invalid_json_line (line 3): This line is not parseable as valid JSON.');
    expect(describeBatchErrors({ object: 'list', data })).toBe(describeBatchErrors(data));
  });

  it('reads nothing from null, an empty list or junk', () => {
    for (const errors of [null, undefined, {}, { object: 'list', data: [] }, 'oops', [1, 'x']]) {
      expect(describeBatchErrors(errors)).toBeNull();
    }
  });
});

describe('adoptableBatch', () => {
  const batch = (id: string, status: string, createdAt: number) => ({ id, status, createdAt });

  it('adopts the oldest batch that ran or can still run, a failed one only when nothing else will run, never a cancelled or expired one', () => {
    expect(adoptableBatch([batch('new', 'in_progress', 30), batch('old', 'validating', 10), batch('mid', 'completed', 20)])?.id).toBe('old');
    expect(adoptableBatch([batch('failed', 'failed', 10), batch('running', 'in_progress', 30)])?.id).toBe('running');
    expect(adoptableBatch([batch('failed', 'failed', 10), batch('gone', 'cancelled', 5)])?.id).toBe('failed');
    expect(adoptableBatch([batch('a', 'cancelling', 1), batch('b', 'cancelled', 2), batch('c', 'expired', 3)])).toBeNull();
    expect(adoptableBatch([])).toBeNull();
  });
});
