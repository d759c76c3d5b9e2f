import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const script = resolve(import.meta.dirname, '../../scripts/kafka/kafka.sh');

/** The broker script builds `rm -rf` paths from KAFKA_VERSION and the ports: anything but plain values is refused first. */
describe('scripts/kafka/kafka.sh refuses values that would end up in a deleted path', () => {
  let home: string;
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'kafka-script-'));
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it.each([
    ['KAFKA_VERSION', '../../../tmp', /KAFKA_VERSION must look like 4.1.0/],
    ['KAFKA_VERSION', '4.1.0/../..', /KAFKA_VERSION must look like 4.1.0/],
    ['KAFKA_PORT', '9092/../..', /KAFKA_PORT must be a port number/],
    ['KAFKA_CONTROLLER_PORT', '1 ; true', /KAFKA_CONTROLLER_PORT must be a port number/],
  ])('%s=%j: exit 2 with the reason, nothing touched', (variable, value, reason) => {
    const victim = join(home, 'kafka', 'keep-me');
    mkdirSync(victim, { recursive: true });
    writeFileSync(join(victim, 'file'), 'x');
    const run = spawnSync('bash', [script, 'reset'], { env: { ...process.env, CASCADE_HOME: home, KAFKA_PORT: '39990', [variable]: value }, encoding: 'utf8' });
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 2, stderr: expect.stringMatching(reason) });
    expect(existsSync(join(victim, 'file'))).toBe(true);
  });
});
