import type { Admin, DescribeConfigResponse } from 'kafkajs';
import pino from 'pino';
import { checkInboxRetention, humanDuration, inboxRetentionWarning } from './topic-retention.js';

const DAY_MS = 86_400_000;

describe('a consumed topic against the inbox retention', () => {
  it('says nothing while the inbox keeps ids at least as long as the topic keeps messages', () => {
    expect(inboxRetentionWarning('pr.ingested.v1', 7 * DAY_MS, 14)).toBeNull();
    expect(inboxRetentionWarning('pr.ingested.v1', 14 * DAY_MS, 14)).toBeNull();
    expect(inboxRetentionWarning('pr.ingested.v1', 0, 0.001)).toBeNull();
  });

  it('names the topic and both durations when the topic keeps messages longer', () => {
    expect(inboxRetentionWarning('pr.ingested.v1', 30 * DAY_MS, 14)).toBe(
      'topic pr.ingested.v1 keeps messages for 30 days (retention.ms=2592000000), longer than the inbox keeps event ids ' +
        "(INBOX_RETENTION_DAYS=14, 14 days): an event read again after that would apply its effect twice; raise INBOX_RETENTION_DAYS above the topic's retention",
    );
    expect(inboxRetentionWarning('batch.completed.v1', 7 * DAY_MS, 0.0005)).toContain('for 7 days (retention.ms=604800000), longer than the inbox keeps event ids (INBOX_RETENTION_DAYS=0.0005, 43.2 s)');
    expect(inboxRetentionWarning('x', 14 * DAY_MS + 1, 14)).not.toBeNull();
  });

  it('treats retention.ms -1 as forever', () => {
    expect(inboxRetentionWarning('pr.replayed.v1', -1, 3650)).toContain('keeps messages forever (retention.ms=-1)');
  });

  it('writes durations in the largest unit they fill', () => {
    expect([DAY_MS, 14 * DAY_MS, 12 * 3_600_000, 36 * 60_000, 43_200, 500].map(humanDuration)).toEqual(['1 day', '14 days', '12 h', '36 min', '43.2 s', '0.5 s']);
  });
});

describe('the check at boot', () => {
  function admin(answer: Record<string, string | Error>): Admin {
    return {
      describeConfigs: async ({ resources }: { resources: Array<{ name: string }> }): Promise<DescribeConfigResponse> => {
        if (Object.values(answer).some((value) => value instanceof Error)) throw new Error('broker away');
        return {
          throttleTime: 0,
          resources: resources.map(({ name }) => ({
            resourceName: name,
            resourceType: 2,
            errorCode: name in answer ? 0 : 3,
            errorMessage: name in answer ? null : 'UNKNOWN_TOPIC_OR_PARTITION',
            configEntries: name in answer ? [{ configName: 'retention.ms', configValue: String(answer[name]), isDefault: true, configSource: 5, isSensitive: false, readOnly: false, configSynonyms: [] }] : [],
          })),
        } as unknown as DescribeConfigResponse;
      },
    } as unknown as Admin;
  }

  function capture(): { lines: Array<Record<string, unknown>>; logger: pino.Logger } {
    const lines: Array<Record<string, unknown>> = [];
    return { lines, logger: pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) }) };
  }

  it('logs one warning line per topic that outlives the inbox, and nothing for the others', async () => {
    const { lines, logger } = capture();
    const warned = await checkInboxRetention(admin({ 'p.pr.ingested.v1': String(7 * DAY_MS), 'p.pr.replayed.v1': String(30 * DAY_MS) }), ['p.pr.ingested.v1', 'p.pr.replayed.v1'], 14, logger);
    expect(warned).toEqual(['p.pr.replayed.v1']);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, topic: 'p.pr.replayed.v1', retentionMs: 30 * DAY_MS, inboxRetentionDays: 14 });
    expect(lines[0]!.msg).toMatch(/^topic p\.pr\.replayed\.v1 keeps messages for 30 days .* \(INBOX_RETENTION_DAYS=14, 14 days\)/);
  });

  it('warns, without stopping the service, about topics whose retention it cannot read', async () => {
    const missing = capture();
    expect(await checkInboxRetention(admin({ a: String(DAY_MS) }), ['a', 'b'], 14, missing.logger)).toEqual([]);
    expect(missing.lines).toHaveLength(1);
    expect(missing.lines[0]).toMatchObject({ level: 40, topics: ['b'] });
    expect(missing.lines[0]!.msg).toContain('retention.ms of b unknown');

    const away = capture();
    expect(await checkInboxRetention(admin({ a: new Error('x') }), ['a'], 14, away.logger)).toEqual([]);
    expect(away.lines[0]).toMatchObject({ level: 40, topics: ['a'], err: { message: 'broker away' } });
  });
});
