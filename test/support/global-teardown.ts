import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

/** Stops the broker only if the setup started it (a developer's running broker is left alone). */
export default async function globalTeardown(): Promise<void> {
  const port = process.env.CASCADE_TEST_STARTED_KAFKA;
  if (!port || process.env.CASCADE_KEEP_KAFKA) return;
  execFileSync('bash', [resolve(import.meta.dirname, '../../scripts/kafka/kafka.sh'), 'stop'], {
    env: { ...process.env, KAFKA_PORT: port, KAFKA_CONTROLLER_PORT: String(Number(port) + 1) },
    stdio: 'inherit',
  });
}
