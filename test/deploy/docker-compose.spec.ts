import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';

/** No Docker engine runs here, so the compose file is checked as data: services, ports and variables. */
interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string | number>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: unknown;
}

const root = resolve(import.meta.dirname, '../..');
const composeText = readFileSync(resolve(root, 'docker-compose.yml'), 'utf8');
const compose = parse(composeText, { merge: true }) as {
  services: Record<string, ComposeService>;
};

const SERVICES: Array<[string, number]> = [
  ['batch-submitter', 3101],
  ['poller', 3102],
  ['retry-service', 3103],
  ['result-writer', 3104],
];

describe('docker-compose.yml', () => {
  it('runs a KRaft broker and PostgreSQL with health checks', () => {
    expect(compose.services.kafka?.image).toMatch(/^apache\/kafka:4\./);
    expect(compose.services.kafka?.environment?.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    expect(compose.services.kafka?.healthcheck).toBeDefined();
    expect(compose.services.postgres?.image).toMatch(/^postgres:/);
    expect(compose.services.postgres?.healthcheck).toBeDefined();
  });

  it.each(SERVICES)('runs %s from the shared Dockerfile with its port and every required variable', (name, port) => {
    const service = compose.services[name]!;
    expect(service).toBeDefined();
    expect(service.build).toBeDefined();
    expect(service.environment?.SERVICE).toBe(name);
    expect(Number(service.environment?.HTTP_PORT)).toBe(port);
    expect(service.ports).toContain(`127.0.0.1:${port}:${port}`);
    for (const variable of ['KAFKA_BROKERS', 'DATABASE_URL', 'GROQ_BASE_URL', 'GROQ_API_KEY', 'HTTP_HOST', 'REDIS_URL']) {
      expect(service.environment?.[variable]).toBeDefined();
    }
    expect(service.depends_on?.kafka?.condition).toBe('service_healthy');
    expect(service.depends_on?.postgres?.condition).toBe('service_healthy');
    expect(service.depends_on?.redis?.condition).toBe('service_healthy');
    // The Dockerfile's runtime stage starts dist/apps/<SERVICE>/src/main.js: that entry must exist in source.
    expect(() => readFileSync(resolve(root, 'apps', name, 'src/main.ts'))).not.toThrow();
  });

  it('never hard-codes a real API key', () => {
    const text = readFileSync(resolve(root, 'docker-compose.yml'), 'utf8');
    expect(text).not.toMatch(/gsk_[A-Za-z0-9]{20,}/);
  });

  it('publishes only the ops HTTP ports, each on 127.0.0.1', () => {
    const published = Object.entries(compose.services).flatMap(([name, service]) => (service.ports ?? []).map((port) => `${name} ${port}`));
    expect(published.sort()).toEqual(SERVICES.map(([name, port]) => `${name} 127.0.0.1:${port}:${port}`).sort());
  });

  it('takes every password, token and secret from the environment, never a literal', () => {
    // `${VAR:?message}` (required) or `${VAR:-}` (optional, empty): no default value to fall back on.
    const fromEnvironment = /^\$\{([A-Z_]+)(:\?[^}]*|:-)\}$/;
    for (const [name, service] of Object.entries(compose.services)) {
      for (const [variable, value] of Object.entries(service.environment ?? {})) {
        if (/PASSWORD|TOKEN|SECRET/.test(variable)) expect([name, variable, String(value)]).toEqual([name, variable, expect.stringMatching(fromEnvironment)]);
      }
      const url = String(service.environment?.DATABASE_URL ?? '');
      if (url) expect(url).toMatch(/^postgres:\/\/postgres:\$\{POSTGRES_PASSWORD:\?[^}]*\}@/);
    }
    expect(compose.services.postgres?.environment?.POSTGRES_PASSWORD).toMatch(/^\$\{POSTGRES_PASSWORD:\?/);
    expect(composeText).not.toMatch(/postgres:postgres@|POSTGRES_PASSWORD: *postgres\b/);
  });

  it.each(SERVICES)('%s bound off loopback inside the network requires OPS_TOKEN from the environment', (name) => {
    const environment = compose.services[name]!.environment!;
    if (!['127.0.0.1', '::1', 'localhost'].includes(String(environment.HTTP_HOST))) {
      expect(String(environment.OPS_TOKEN)).toMatch(/^\$\{OPS_TOKEN:\?[^}]+\}$/);
      expect(environment.OPS_ALLOW_UNAUTHENTICATED).toBeUndefined();
    }
  });

  it('keeps .env out of git and documents every required variable in .env.example', () => {
    expect(readFileSync(resolve(root, '.gitignore'), 'utf8').split('\n')).toContain('.env');
    const example = readFileSync(resolve(root, '.env.example'), 'utf8');
    const required = [...new Set([...composeText.matchAll(/\$\{([A-Z_]+):\?/g)].map((m) => m[1]!))];
    expect(required.sort()).toEqual(['OPS_TOKEN', 'POSTGRES_PASSWORD']);
    for (const variable of required) expect(example).toMatch(new RegExp(`^${variable}=$`, 'm'));
    // The example holds names, never values.
    for (const line of example.split('\n').filter((l) => /^[A-Z_]+=/.test(l))) expect(line).toMatch(/^[A-Z_]+=$/);
  });
});
