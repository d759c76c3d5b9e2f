import { requestIdentityOf } from './dead-letters.js';

const bytes = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));

describe('the request a dead letter concerns, read from its raw JSON', () => {
  it('reads payload.requestId and its prompt version, whatever else is wrong', () => {
    expect(requestIdentityOf(bytes({ payload: { requestId: 'acme/api#1', prNumber: 3_000_000_000 } }))).toEqual({ requestId: 'acme/api#1', promptVersion: null });
    expect(requestIdentityOf(bytes({ payload: { requestId: 'a', promptVersion: 'pr-analysis-v2' } }))).toEqual({ requestId: 'a', promptVersion: 'pr-analysis-v2' });
  });

  it('reads the first request metadata of the other events', () => {
    const request = { requestId: 'r/1', promptVersion: 'v1' };
    expect(requestIdentityOf(bytes({ payload: { requests: [request] } }))).toEqual({ requestId: 'r/1', promptVersion: 'v1' });
    for (const list of ['results', 'failures', 'resolved']) {
      expect(requestIdentityOf(bytes({ payload: { [list]: [{ request }] } }))).toEqual({ requestId: 'r/1', promptVersion: 'v1' });
    }
    expect(requestIdentityOf(bytes({ payload: { promptVersion: 'v3', results: [{ request: { requestId: 'r/2' } }] } }))).toEqual({ requestId: 'r/2', promptVersion: 'v3' });
  });

  it('normalises what it reads (the raw value is often why the message was refused) and bounds it', () => {
    expect(requestIdentityOf(bytes({ payload: { requestId: 'a\u0000b\uD800' } }))).toEqual({ requestId: 'ab\uFFFD', promptVersion: null });
    expect(requestIdentityOf(bytes({ payload: { requestId: 'x'.repeat(500) } })).requestId).toHaveLength(200);
  });

  it('answers nothing when there is nothing to read', () => {
    const none = { requestId: null, promptVersion: null };
    for (const value of [null, Buffer.alloc(0), bytes('{not json'), bytes('[]'), bytes({ payload: 'x' }), bytes({ payload: { requestId: 7 } }), bytes({ payload: { requestId: '' } })]) {
      expect(requestIdentityOf(value)).toEqual(none);
    }
  });
});
