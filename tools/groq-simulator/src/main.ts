import { parseArgs } from 'node:util';
import { type ModelProfile, type OutputTooLongForm, parseFaults, parsePrices, parseProfile, type SimulatorOptions } from './options.js';
import { startGroqSimulator } from './simulator.js';

/**
 * `node dist/tools/groq-simulator/src/main.js --port 18080 --seed 42 --latency-ms 0`
 * Every flag has an environment variable (GROQ_SIMULATOR_<FLAG>, e.g. GROQ_SIMULATOR_PORT); flags win.
 */
const USAGE = `Groq Batch API simulator
  --host <ip>                 GROQ_SIMULATOR_HOST                 default 127.0.0.1
  --port <n>                  GROQ_SIMULATOR_PORT                 default 18080 (0: any free port)
  --seed <n>                  GROQ_SIMULATOR_SEED                 default 42
  --latency-ms <n>            GROQ_SIMULATOR_LATENCY_MS           time in validating / finalizing / cancelling, default 0
  --per-line-delay-ms <n>     GROQ_SIMULATOR_PER_LINE_DELAY_MS    default 0
  --lines-per-second <n>      GROQ_SIMULATOR_LINES_PER_SECOND     default unlimited
  --output-too-long <form>    GROQ_SIMULATOR_OUTPUT_TOO_LONG      error | finish_reason_length, default error
  --faults <json>             GROQ_SIMULATOR_FAULTS               e.g. '{"shuffle":true,"missingRate":0.01}'
  --profiles <json>           GROQ_SIMULATOR_PROFILES             e.g. '{"openai/gpt-oss-20b":{"failureRate":0.1}}'
  --prices <json>             GROQ_SIMULATOR_PRICES               batch prices of the billed account, merged over Cascade's
                                                                  e.g. '{"openai/gpt-oss-20b":{"inputPerMillion":0.0375,"outputPerMillion":0.15}}'
`;

class UsageError extends Error {}

const flags = {
  host: 'GROQ_SIMULATOR_HOST',
  port: 'GROQ_SIMULATOR_PORT',
  seed: 'GROQ_SIMULATOR_SEED',
  'latency-ms': 'GROQ_SIMULATOR_LATENCY_MS',
  'stage-delay-ms': 'GROQ_SIMULATOR_STAGE_DELAY_MS',
  'per-line-delay-ms': 'GROQ_SIMULATOR_PER_LINE_DELAY_MS',
  'lines-per-second': 'GROQ_SIMULATOR_LINES_PER_SECOND',
  'output-too-long': 'GROQ_SIMULATOR_OUTPUT_TOO_LONG',
  faults: 'GROQ_SIMULATOR_FAULTS',
  profiles: 'GROQ_SIMULATOR_PROFILES',
  prices: 'GROQ_SIMULATOR_PRICES',
} as const;
type Flag = keyof typeof flags;

function readOptions(argv: string[]): Partial<SimulatorOptions> {
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
  const json = (flag: Flag): unknown => {
    const text = raw(flag);
    if (text === undefined || text === '') return undefined;
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new UsageError(`${where(flag)} is not JSON: ${(error as Error).message}`);
    }
  };
  const checked = <T>(flag: Flag, fn: () => T): T => {
    try {
      return fn();
    } catch (error) {
      throw new UsageError(`${where(flag)}: ${(error as Error).message}`);
    }
  };

  const options: Partial<SimulatorOptions> = {
    host: raw('host') || '127.0.0.1',
    port: number('port', 18080),
    seed: number('seed', 42),
    stageDelayMs: number('latency-ms', number('stage-delay-ms', 0)),
    perLineDelayMs: number('per-line-delay-ms', 0),
  };
  const rate = number('lines-per-second', 0);
  if (rate > 0) options.linesPerSecond = rate;
  const form = raw('output-too-long');
  if (form !== undefined && form !== '') {
    if (form !== 'error' && form !== 'finish_reason_length') throw new UsageError(`${where('output-too-long')} must be error or finish_reason_length, got "${form}"`);
    options.outputTooLongAs = form as OutputTooLongForm;
  }
  const faults = json('faults');
  if (faults !== undefined) options.faults = { ...checked('faults', () => parseFaults(faults)) } as SimulatorOptions['faults'];
  const profiles = json('profiles');
  if (profiles !== undefined) {
    options.profiles = checked('profiles', () => {
      if (typeof profiles !== 'object' || profiles === null || Array.isArray(profiles)) throw new Error('must be an object of model → profile');
      return Object.fromEntries(Object.entries(profiles).map(([model, profile]) => [model, parseProfile(profile)])) as Record<string, ModelProfile>;
    });
  }
  const prices = json('prices');
  if (prices !== undefined) options.prices = checked('prices', () => parsePrices(prices));
  return options;
}

try {
  const simulator = await startGroqSimulator(readOptions(process.argv.slice(2)));
  process.stdout.write(`Groq simulator listening on ${simulator.url} (set GROQ_BASE_URL=${simulator.url})\n`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`Groq simulator stopping (${signal})\n`);
    simulator.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`Groq simulator did not stop cleanly: ${(error as Error).message}\n`);
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
