import { samplePayloads } from '#contracts/testing';
import { Topic } from '#contracts';
import { parsePrLine } from './ingest-line.js';

describe('ingest line parsing', () => {
  const pr = samplePayloads()[Topic.PrIngested];

  it('wraps a bare payload in an envelope with a correlation id', () => {
    const event = parsePrLine(JSON.stringify(pr), 1, 'ingest:');
    expect('problem' in event).toBe(false);
    if (!('problem' in event)) {
      expect(event.correlationId).toBe(`ingest:${pr.requestId}`);
      expect(event.type).toBe('PrIngested');
    }
  });

  it('names the line, the field and the request id of a bad line', () => {
    const { team: _team, ...withoutTeam } = pr;
    expect(parsePrLine(JSON.stringify(withoutTeam), 7, '')).toEqual({ line: 7, requestId: pr.requestId, problem: expect.stringMatching(/^team: /) });
    expect(parsePrLine('{oops', 3, '')).toMatchObject({ line: 3, requestId: null, problem: expect.stringMatching(/not JSON/) });
  });
});
