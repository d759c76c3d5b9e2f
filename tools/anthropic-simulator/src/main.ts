import { parseArgs } from 'node:util';
import { type AnthropicModelProfile, type AnthropicSimulatorOptions, parseFaults, parsePrices, parseProfile } from './options.js';
import { startAnthropicSimulator } from './simulator.js';

/**
 * `node dist/tools/anthropic-simulator/src/main.js --port 18090 --seed 42 --latency-ms 0`
 * Every flag has an environment variable (ANTHROPIC_SIMULATOR_<FLAG>, e.g. ANTHROPIC_SIMULATOR_PORT); flags win.
 */
const USAGE = `Anthropic Message Batches simulator
  --host <ip>                 ANTHROPIC_SIMULATOR_HOST                 default 127.0.0.1
  --port <n>                  ANTHROPIC_SIMULATOR_PORT                 default 18090 (0: any free port)
  --seed <n>                  ANTHROPIC_SIMULATOR_SEED                 default 42
  --latency-ms <n>            ANTHROPIC_SIMULATOR_LATENCY_MS           time before processing, before ending and in canceling, default 0
  --per-line-delay-ms <n>     ANTHROPIC_SIMULATOR_PER_LINE_DELAY_MS    default 0
  --lines-per-second <n>      ANTHROPIC_SIMULATOR_LINES_PER_SECOND     default unlimited
  --faults <json>             ANTHROPIC_SIMULATOR_FAULTS               e.g. '{"shuffle":true,"notFoundAfterCreateMs":2000}'
  --profiles <json>           ANTHROPIC_SIMULATOR_PROFILES             e.g. '{"claude-haiku-4-5":{"failureRate":0.1}}'
  --prices <json>             ANTHROPIC_SIMULATOR_PRICES               batch prices of the billed account, merged over the defaults
`;

class UsageError extends Error {}

const flags = {
  host: 'ANTHROPIC_SIMULATOR_HOST',
  port: 'ANTHROPIC_SIMULATOR_PORT',
  seed: 'ANTHROPIC_SIMULATOR_SEED',
  'latency-ms': 'ANTHROPIC_SIMULATOR_LATENCY_MS',
  'per-line-delay-ms': 'ANTHROPIC_SIMULATOR_PER_LINE_DELAY_MS',
  'lines-per-second': 'ANTHROPIC_SIMULATOR_LINES_PER_SECOND',
  faults: 'ANTHROPIC_SIMULATOR_FAULTS',
  profiles: 'ANTHROPIC_SIMULATOR_PROFILES',
  prices: 'ANTHROPIC_SIMULATOR_PRICES',
} as const;
type Flag = keyof typeof flags;

function readOptions(argv: string[]): Partial<AnthropicSimulatorOptions> {
  const { values } = parseArgs({
    args: argv,
    options: { ...Object.fromEntries(Object.keys(flags).map((name) => [name, { type: 'string' as const }])), help: { type: 'boolean' } },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const given = values as Record<string, string | boolean | undefined>;
  const raw = (flag: Flag): string | undefined => {
    const value = given[flag];
    return typeof value === 'string' ? value : process.env[flags[flag]];
  };
  const where = (flag: Flag) => `--${flag} / ${flags[flag]}`;
  const number = (flag: Flag, fallback: number): number => {
    const text = raw(flag);
    if (text === undefined || text === '') return fallback;
    const value = Number(text);
    if (!Number.isFinite(value) || value < 0) throw new UsageError(`${where(flag)} must be a non-negative number, got "${text}"`);
    return value;
  };
  const json = <T>(flag: Flag, check: (value: unknown) => T): T | undefined => {
    const text = raw(flag);
    if (text === undefined || text === '') return undefined;
    try {
      return check(JSON.parse(text));
    } catch (error) {
      throw new UsageError(`${where(flag)}: ${(error as Error).message}`);
    }
  };

  const options: Partial<AnthropicSimulatorOptions> = {
    host: raw('host') || '127.0.0.1',
    port: number('port', 18090),
    seed: number('seed', 42),
    stageDelayMs: number('latency-ms', 0),
    perLineDelayMs: number('per-line-delay-ms', 0),
  };
  const rate = number('lines-per-second', 0);
  if (rate > 0) options.linesPerSecond = rate;
  const faults = json('faults', parseFaults);
  if (faults) options.faults = faults as AnthropicSimulatorOptions['faults'];
  const profiles = json('profiles', (value) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('must be an object of model → profile');
    return Object.fromEntries(Object.entries(value).map(([model, profile]) => [model, parseProfile(profile)])) as Record<string, AnthropicModelProfile>;
  });
  if (profiles) options.profiles = profiles;
  const prices = json('prices', parsePrices);
  if (prices) options.prices = prices;
  return options;
}

try {
  const simulator = await startAnthropicSimulator(readOptions(process.argv.slice(2)));
  process.stdout.write(`Anthropic simulator listening on ${simulator.url} (set ANTHROPIC_BASE_URL=${simulator.url})\n`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`Anthropic simulator stopping (${signal})\n`);
    simulator.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`Anthropic simulator did not stop cleanly: ${(error as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n${error instanceof UsageError ? USAGE : ''}`);
  process.exit(error instanceof UsageError ? 2 : 1);
}
