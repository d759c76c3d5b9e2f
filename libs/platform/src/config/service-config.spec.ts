import { z } from 'zod';
import { allTopicSpecs } from '../kafka/topic-names.js';
import { ConfigError, loadServiceConfig } from './service-config.js';

const identity = { name: 'poller', defaultHttpPort: 3002 };

describe('service configuration', () => {
  it('applies defaults for the embedded setup', () => {
    const config = loadServiceConfig(identity, z.object({}), {});
    expect(config.kafka.brokers).toEqual(['127.0.0.1:9092']);
    expect(config.kafka.groupId).toBe('cascade-poller');
    expect(config.http.port).toBe(3002);
    expect(config.env.DATABASE_URL).toBe('postgres://postgres@127.0.0.1:5432/cascade');
  });

  it.each([
    ['KAFKA_BROKERS', 'localhost'],
    ['HTTP_PORT', 'eighty'],
    ['DATABASE_URL', 'mysql://x@y/z'],
    ['LOG_LEVEL', 'loud'],
    ['OPS_TOKEN', 'short'],
    ['OPS_READ_TOKEN', 'short'],
    ['OPS_ALLOW_UNAUTHENTICATED', 'yes'],
    ['OPS_ALLOWED_HOSTS', 'proxy.local:8080'],
    ['KAFKA_TOPIC_PARTITIONS', 'pr.ingested.v9=3'],
    ['KAFKA_TOPIC_PARTITIONS', 'pr.ingested.v1=0'],
  ])('names %s when it is malformed', (variable, value) => {
    expect(() => loadServiceConfig(identity, z.object({}), { [variable]: value })).toThrow(
      new RegExp(`Invalid configuration: ${variable}`),
    );
  });

  it('keeps whole retention units by default and accepts decimals, never zero, negative or non-numeric', () => {
    const defaults = loadServiceConfig(identity, z.object({}), {}).env;
    expect([defaults.OUTBOX_RETENTION_HOURS, defaults.INBOX_RETENTION_DAYS, defaults.RETENTION_SWEEP_MS]).toEqual([24, 14, 600_000]);
    const short = loadServiceConfig(identity, z.object({}), { OUTBOX_RETENTION_HOURS: '0.02', INBOX_RETENTION_DAYS: '0.5' }).env;
    expect([short.OUTBOX_RETENTION_HOURS, short.INBOX_RETENTION_DAYS]).toEqual([0.02, 0.5]);
    for (const variable of ['OUTBOX_RETENTION_HOURS', 'INBOX_RETENTION_DAYS']) {
      for (const value of ['0', '-1', '1e400', 'a day']) {
        expect(() => loadServiceConfig(identity, z.object({}), { [variable]: value })).toThrow(new RegExp(`Invalid configuration: ${variable}`));
      }
    }
  });

  it('takes partition counts per topic over the default', () => {
    const config = loadServiceConfig(identity, z.object({}), { KAFKA_PARTITIONS: '4', KAFKA_TOPIC_PARTITIONS: 'pr.ingested.v1=12, batch.completed.v1=2' });
    expect(config.kafka.partitions).toBe(4);
    expect(config.kafka.topicPartitions).toEqual({ 'pr.ingested.v1': 12, 'batch.completed.v1': 2 });
    const specs = allTopicSpecs('x.', config.kafka.partitions, config.kafka.topicPartitions);
    expect(specs.find((t) => t.name === 'x.pr.ingested.v1')?.partitions).toBe(12);
    expect(specs.find((t) => t.name === 'x.batch.completed.v1')?.partitions).toBe(2);
    expect(specs.find((t) => t.name === 'x.results.merged.v1')?.partitions).toBe(4);
  });

  it('names a missing required variable of the service and never echoes values', () => {
    const schema = z.object({ GROQ_API_KEY: z.string().min(40) });
    let error: unknown;
    try {
      loadServiceConfig(identity, schema, { GROQ_API_KEY: 'gsk_secret_value' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe('GROQ_API_KEY');
    expect((error as Error).message).not.toContain('gsk_secret_value');
  });

  describe('fail closed off loopback', () => {
    it.each(['127.0.0.1', '::1', 'localhost', 'LOCALHOST'])('runs without tokens bound to %s', (host) => {
      expect(loadServiceConfig(identity, z.object({}), { HTTP_HOST: host }).http.loopback).toBe(true);
    });

    it.each(['0.0.0.0', '::', '10.0.0.5', 'cascade.internal'])('refuses %s without OPS_TOKEN, naming it', (host) => {
      expect(() => loadServiceConfig(identity, z.object({}), { HTTP_HOST: host })).toThrow(/Invalid configuration: OPS_TOKEN is required when HTTP_HOST is not a loopback address/);
      // A read token alone does not make the write routes safe to expose.
      expect(() => loadServiceConfig(identity, z.object({}), { HTTP_HOST: host, OPS_READ_TOKEN: 'r'.repeat(16) })).toThrow(/OPS_TOKEN/);
    });

    it('starts off loopback with OPS_TOKEN, or with the explicit opt-out', () => {
      expect(loadServiceConfig(identity, z.object({}), { HTTP_HOST: '0.0.0.0', OPS_TOKEN: 'w'.repeat(16) }).http.loopback).toBe(false);
      expect(loadServiceConfig(identity, z.object({}), { HTTP_HOST: '0.0.0.0', OPS_ALLOW_UNAUTHENTICATED: 'true' }).env.OPS_ALLOW_UNAUTHENTICATED).toBe(true);
      expect(() => loadServiceConfig(identity, z.object({}), { HTTP_HOST: '0.0.0.0', OPS_ALLOW_UNAUTHENTICATED: 'false' })).toThrow(/OPS_TOKEN/);
    });

    it('reads OPS_ALLOWED_HOSTS as lower-case names', () => {
      expect(loadServiceConfig(identity, z.object({}), { OPS_ALLOWED_HOSTS: 'Ops.Internal, proxy.local' }).env.OPS_ALLOWED_HOSTS).toEqual(['ops.internal', 'proxy.local']);
    });
  });
});
