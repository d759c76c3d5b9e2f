import { z } from 'zod';
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
  ])('names %s when it is malformed', (variable, value) => {
    expect(() => loadServiceConfig(identity, z.object({}), { [variable]: value })).toThrow(
      new RegExp(`Invalid configuration: ${variable}`),
    );
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
});
