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
const compose = parse(readFileSync(resolve(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
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
    expect(service.ports).toContain(`${port}:${port}`);
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
});
