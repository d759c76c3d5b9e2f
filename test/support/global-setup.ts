import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

/**
 * Integration tests run against a real broker and the real PostgreSQL. Unless KAFKA_BROKERS points
 * at a cluster, start the project's own single-node broker (Kafka's jars, KRaft) on a test port.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.KAFKA_BROKERS) return;
  const port = process.env.CASCADE_TEST_KAFKA_PORT ?? '29092';
  const script = resolve(import.meta.dirname, '../../scripts/kafka/kafka.sh');
  const output = execFileSync('bash', [script, 'start'], {
    env: { ...process.env, KAFKA_PORT: port, KAFKA_CONTROLLER_PORT: String(Number(port) + 1) },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  process.env.KAFKA_BROKERS = `127.0.0.1:${port}`;
  process.env.CASCADE_TEST_STARTED_KAFKA = /reus/i.test(output) ? '' : port;
}
