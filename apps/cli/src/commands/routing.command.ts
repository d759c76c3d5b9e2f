import { priceOf, priceTableFrom, type PromptRegistry, promptRegistry } from '#groq-batch';
import { type ChainPrices, evaluateVersion, formatRoutingMetrics, NotEnoughHistoryError, RouterRepository, type RoutingPreference, trainVersion } from '#routing';
import { Command, CommandRunner, Option, SubCommand } from 'nest-commander';
import { type CliEnv, fail, withDatabase } from '../cli-context.js';
import { positiveInteger } from './options.js';

/** The chain's first model and the next one, with their prices: what a router chooses between. */
function chainPrices(env: Pick<CliEnv, 'MODEL_CHAIN' | 'MODEL_PRICES_JSON'>): ChainPrices {
  const [cheapModel, strongModel] = env.MODEL_CHAIN;
  if (!cheapModel || !strongModel) fail(`MODEL_CHAIN names one model (${env.MODEL_CHAIN.join(', ')}): there is no next model to route to`);
  const table = priceTableFrom(env.MODEL_PRICES_JSON);
  return { cheapModel, strongModel, cheap: priceOf(table, cheapModel), strong: priceOf(table, strongModel) };
}

/** A bad option value is bad usage: exit 2, as the other refusals of these commands. */
function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    fail((error as Error).message);
  }
}

function registryOf(env: CliEnv): PromptRegistry {
  return promptRegistry(env.PROMPTS_DIR);
}

interface TrainOptions {
  holdout?: number;
  favour?: RoutingPreference;
  steps?: number;
  json?: boolean;
}

/**
 * Trains a new router version from the database's pass-1 attempts on the chain's first model (the newest
 * share of them, by time, held out), stores it, and prints its hold-out figures. The services use the
 * newest version from their next scoring on; roll back by deleting newer versions (see the README).
 */
@SubCommand({ name: 'train', description: 'Train a router version on the pass-1 history (time-based hold-out), store it and print its hold-out figures' })
export class RoutingTrainCommand extends CommandRunner {
  async run(_params: string[], options: TrainOptions): Promise<void> {
    await withDatabase(async (ds, env) => {
      const prices = chainPrices(env);
      const repository = new RouterRepository();
      const attempts = await repository.pass1Attempts(ds.manager, prices.cheapModel, registryOf(env));
      let version;
      try {
        version = trainVersion(attempts, { prices, holdoutShare: options.holdout, preference: options.favour, steps: options.steps });
      } catch (error) {
        if (error instanceof NotEnoughHistoryError) fail(`cannot train a router for ${prices.cheapModel} → ${prices.strongModel}: ${error.message}`, 1);
        throw error;
      }
      const number = await repository.saveVersion(ds.manager, prices, version);
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ version: number, threshold: version.threshold, preference: version.preference, holdoutFrom: version.holdoutFrom, metrics: version.metrics }, null, 2)}\n`);
        return;
      }
      process.stdout.write(`router version ${number} for ${prices.cheapModel} → ${prices.strongModel} (${version.preference})\n${formatRoutingMetrics(version.metrics, version.threshold)}\n`);
    });
  }

  @Option({ flags: '--holdout <share>', description: 'the newest share of attempts kept out of training (default 0.2)' })
  parseHoldout(value: string): number {
    const share = Number(value);
    if (!Number.isFinite(share) || share <= 0 || share >= 1) fail(`--holdout must be a share between 0 and 1, got "${value}"`);
    return share;
  }

  @Option({ flags: '--favour <cost|latency>', description: 'cost (default): route where it pays; latency: also where it costs up to half the break-even more' })
  parseFavour(value: string): RoutingPreference {
    if (value !== 'cost' && value !== 'latency') fail(`--favour must be cost or latency, got "${value}"`);
    return value;
  }

  @Option({ flags: '--steps <n>', description: 'gradient steps of the logistic regression (default 2000)' })
  parseSteps(value: string): number {
    return usage(() => positiveInteger('--steps', value));
  }

  @Option({ flags: '--json', description: 'print as JSON' })
  parseJson(): boolean {
    return true;
  }
}

interface EvaluateOptions {
  modelVersion?: number;
  json?: boolean;
}

/** A stored version's figures on its hold-out, recomputed from the database (prices of today's table). */
@SubCommand({ name: 'evaluate', description: "A router version's precision, recall, requests saved from pass 2, dollars and batch cycles on its hold-out" })
export class RoutingEvaluateCommand extends CommandRunner {
  async run(_params: string[], options: EvaluateOptions): Promise<void> {
    await withDatabase(async (ds, env) => {
      const prices = chainPrices(env);
      const repository = new RouterRepository();
      const version = await repository.findVersion(ds.manager, options.modelVersion !== undefined ? { version: options.modelVersion } : prices);
      if (!version) {
        fail(options.modelVersion !== undefined ? `no router version ${options.modelVersion}` : `no router version for ${prices.cheapModel} → ${prices.strongModel}: run cascade routing train`, 1);
      }
      const versionPrices = { ...prices, cheapModel: version.cheapModel, strongModel: version.strongModel };
      const table = priceTableFrom(env.MODEL_PRICES_JSON);
      const attempts = await repository.pass1Attempts(ds.manager, version.cheapModel, registryOf(env));
      const metrics = evaluateVersion(version, attempts, { ...versionPrices, cheap: priceOf(table, version.cheapModel), strong: priceOf(table, version.strongModel) });
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ version: version.version, threshold: version.threshold, metrics }, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        `router version ${version.version} (trained ${version.trainedAt.toISOString()}) for ${version.cheapModel} → ${version.strongModel}\n${formatRoutingMetrics(metrics, version.threshold)}\n`,
      );
    });
  }

  @Option({ flags: '--model-version <n>', description: 'this router version (default: the newest for the chain)' })
  parseModelVersion(value: string): number {
    return usage(() => positiveInteger('--model-version', value));
  }

  @Option({ flags: '--json', description: 'print as JSON' })
  parseJson(): boolean {
    return true;
  }
}

@Command({ name: 'routing', description: 'Predictive routing: train a router on the pass-1 history, evaluate it on its hold-out', subCommands: [RoutingTrainCommand, RoutingEvaluateCommand] })
export class RoutingCommand extends CommandRunner {
  async run(): Promise<void> {
    fail('usage: cascade routing train [--holdout SHARE] [--favour cost|latency] [--steps N] [--json] | cascade routing evaluate [--model-version N] [--json]');
  }
}
