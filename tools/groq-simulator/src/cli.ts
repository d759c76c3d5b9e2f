import { parseArgs } from 'node:util';
import { type ModelProfile, type OutputTooLongForm, parseFaults, parsePrices, parseProfile, type SimulatorApi, type SimulatorOptions } from './options.js';
import { startGroqSimulator } from './simulator.js';

/** What differs between the two CLIs: the names, the default port, and Groq's output-too-long form. */
interface CliFlavour {
  api: SimulatorApi;
  /** Names it in what it prints: `Groq simulator listening on …` (bench/groq-batch reads that line). */
  title: string;
  /** The first line of --help. */
  heading: string;
  /** GROQ_SIMULATOR / OPENAI_SIMULATOR: each flag's variable is `<prefix>_<FLAG>`. */
  envPrefix: string;
  defaultPort: number;
  /** How a client points at it, printed at start. */
  pointAt: (baseURL: string) => string;
}

const FLAVOURS: Record<SimulatorApi, CliFlavour> = {
  groq: { api: 'groq', title: 'Groq simulator', heading: 'Groq Batch API simulator', envPrefix: 'GROQ_SIMULATOR', defaultPort: 18080, pointAt: (url) => `set GROQ_BASE_URL=${url}` },
  openai: { api: 'openai', title: 'OpenAI simulator', heading: 'OpenAI Batch API simulator', envPrefix: 'OPENAI_SIMULATOR', defaultPort: 18081, pointAt: (url) => `set OPENAI_BASE_URL=${url}` },
};

/** The flags of both CLIs; `output-too-long` is Groq's only (OpenAI always answers `finish_reason: "length"`). */
const FLAGS = ['host', 'port', 'seed', 'latency-ms', 'stage-delay-ms', 'per-line-delay-ms', 'lines-per-second', 'output-too-long', 'faults', 'profiles', 'prices'] as const;
type Flag = (typeof FLAGS)[number];

const envName = (flavour: CliFlavour, flag: Flag) => `${flavour.envPrefix}_${flag.toUpperCase().replace(/-/g, '_')}`;

function usage(flavour: CliFlavour): string {
  const line = (flag: string, env: string, help: string) => `  ${flag.padEnd(28)}${env.padEnd(38)}${help}\n`;
  const env = (flag: Flag) => envName(flavour, flag);
  const example = flavour.api === 'openai' ? 'gpt-4.1-mini' : 'openai/gpt-oss-20b';
  return (
    `${flavour.heading}\n` +
    line('--host <ip>', env('host'), 'default 127.0.0.1') +
    line('--port <n>', env('port'), `default ${flavour.defaultPort} (0: any free port)`) +
    line('--seed <n>', env('seed'), 'default 42') +
    line('--latency-ms <n>', env('latency-ms'), 'time in validating / finalizing / cancelling, default 0') +
    line('--per-line-delay-ms <n>', env('per-line-delay-ms'), 'default 0') +
    line('--lines-per-second <n>', env('lines-per-second'), 'default unlimited') +
    (flavour.api === 'groq' ? line('--output-too-long <form>', env('output-too-long'), 'error | finish_reason_length, default error') : '') +
    line('--faults <json>', env('faults'), `e.g. '{"shuffle":true,"missingRate":0.01}'`) +
    line('--profiles <json>', env('profiles'), `e.g. '{"${example}":{"failureRate":0.1}}'`) +
    line('--prices <json>', env('prices'), 'batch prices of the billed account, merged over the defaults') +
    line('', '', `e.g. '{"${example}":{"inputPerMillion":0.2,"outputPerMillion":0.8}}'`)
  );
}

class UsageError extends Error {}

function readOptions(flavour: CliFlavour, argv: string[]): Partial<SimulatorOptions> {
  const flags = FLAGS.filter((flag) => flavour.api === 'groq' || flag !== 'output-too-long');
  const { values } = parseArgs({
    args: argv,
    options: { ...Object.fromEntries(flags.map((name) => [name, { type: 'string' as const }])), help: { type: 'boolean' } },
  });
  if (values.help) {
    process.stdout.write(usage(flavour));
    process.exit(0);
  }
  const given = values as Record<string, string | boolean | undefined>;
  const raw = (flag: Flag): string | undefined => {
    const value = given[flag];
    return typeof value === 'string' ? value : process.env[envName(flavour, flag)];
  };
  const where = (flag: Flag) => `--${flag} / ${envName(flavour, flag)}`;
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
    api: flavour.api,
    host: raw('host') || '127.0.0.1',
    port: number('port', flavour.defaultPort),
    seed: number('seed', 42),
    stageDelayMs: number('latency-ms', number('stage-delay-ms', 0)),
    perLineDelayMs: number('per-line-delay-ms', 0),
  };
  const rate = number('lines-per-second', 0);
  if (rate > 0) options.linesPerSecond = rate;
  const form = flavour.api === 'groq' ? raw('output-too-long') : undefined;
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

/**
 * Runs a simulator from the command line until SIGTERM / SIGINT (files deleted on stop); exits 2 naming
 * a bad flag. Every flag has an environment variable (`<PREFIX>_<FLAG>`, e.g. GROQ_SIMULATOR_PORT); flags win.
 */
export async function runSimulatorCli(api: SimulatorApi, argv: string[]): Promise<void> {
  const flavour = FLAVOURS[api];
  try {
    const simulator = await startGroqSimulator(readOptions(flavour, argv));
    process.stdout.write(`${flavour.title} listening on ${simulator.url} (${flavour.pointAt(simulator.baseURL)})\n`);
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      process.stdout.write(`${flavour.title} stopping (${signal})\n`);
      simulator.stop().then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`${flavour.title} did not stop cleanly: ${(error as Error).message}\n`);
          process.exit(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${error instanceof UsageError ? usage(flavour) : ''}`);
    process.exit(error instanceof UsageError ? 2 : 1);
  }
}
