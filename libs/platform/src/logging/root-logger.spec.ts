import { scrubSecrets, serializeError } from './root-logger.js';

describe('secret scrubbing', () => {
  it('removes known secrets, provider keys and bearer tokens from free text', () => {
    const key = 'gsk_FAKEKEY0123456';
    const text = `call failed with key ${key}; header Authorization: Bearer ops-token-1234567890 and custom s3cr3t-value-xyz`;
    const scrubbed = scrubSecrets(text, ['s3cr3t-value-xyz']);
    expect(scrubbed).not.toContain(key);
    expect(scrubbed).not.toContain('ops-token-1234567890');
    expect(scrubbed).not.toContain('s3cr3t-value-xyz');
    expect(scrubbed).toContain('call failed with key [REDACTED]');
  });
});

describe('error serialisation', () => {
  it("drops a failed query's bound values (PR text) and keeps the message, code and query", () => {
    const error = Object.assign(new Error('request x refused'), { code: 'P0001', query: 'INSERT INTO requests …', parameters: ['{"body":"secret PR text"}'] });
    const serialized = serializeError(error) as Record<string, unknown>;
    expect(serialized).toMatchObject({ message: 'request x refused', code: 'P0001', query: 'INSERT INTO requests …' });
    expect(JSON.stringify(serialized)).not.toContain('secret PR text');
  });

  it("drops what the driver quotes of the row or JSON being written (detail, where, driverError)", () => {
    const driverError = Object.assign(new Error('new row for relation "requests" violates check constraint "requests_stage_check"'), {
      detail: 'Failing row contains (x, v1, {"body": "secret PR text"})',
    });
    const error = Object.assign(new Error(driverError.message), {
      code: '23514',
      constraint: 'requests_stage_check',
      detail: driverError.detail,
      where: 'JSON data, line 1: {"body": "secret PR text',
      driverError,
    });
    const serialized = serializeError(error) as Record<string, unknown>;
    expect(serialized).toMatchObject({ code: '23514', constraint: 'requests_stage_check', message: driverError.message });
    expect(JSON.stringify(serialized)).not.toContain('secret PR text');
  });
});
