import LogisticRegression from 'ml-logistic-regression';
import { Matrix } from 'ml-matrix';
import { FEATURE_NAMES } from './features.js';

/** One pass-1 attempt as the classifier sees it: its features and whether a stronger model was needed. */
export interface LabelledRequest {
  features: number[];
  failed: boolean;
}

/** A trained router: the features it reads, how they are scaled, and the fitted logistic regression. */
export interface TrainedRouter {
  featureNames: string[];
  scaling: { mean: number[]; std: number[] };
  /** `LogisticRegression#toJSON()` of ml-logistic-regression (an intercept column comes first). */
  model: Record<string, unknown>;
}

export interface TrainingOptions {
  /** Gradient steps (ml-logistic-regression's `numSteps`). */
  steps?: number;
}

/** Mean and standard deviation per column; a constant column keeps std 1 so it scales to 0. */
export function scalingOf(rows: ReadonlyArray<readonly number[]>): { mean: number[]; std: number[] } {
  const width = rows[0]?.length ?? 0;
  const mean = Array.from({ length: width }, (_, j) => rows.reduce((sum, row) => sum + row[j]!, 0) / Math.max(1, rows.length));
  const std = mean.map((m, j) => {
    const variance = rows.reduce((sum, row) => sum + (row[j]! - m) ** 2, 0) / Math.max(1, rows.length);
    return variance > 1e-12 ? Math.sqrt(variance) : 1;
  });
  return { mean, std };
}

function designMatrix(rows: ReadonlyArray<readonly number[]>, scaling: TrainedRouter['scaling']): Matrix {
  return new Matrix(rows.map((row) => [1, ...row.map((value, j) => (value - scaling.mean[j]!) / scaling.std[j]!)]));
}

export class EmptyTrainingSetError extends Error {
  constructor() {
    super('no labelled pass-1 attempts to train on');
  }
}

/**
 * Fits a logistic regression of "pass 1 failed in a way a stronger model fixes" on the features. The
 * library's gradient is a sum over rows, so its learning rate is divided by the row count to keep the step
 * the same whatever the history's size; features are standardised and an intercept column is added.
 */
export function trainRouter(rows: readonly LabelledRequest[], options: TrainingOptions = {}): TrainedRouter {
  if (rows.length === 0) throw new EmptyTrainingSetError();
  const features = rows.map((row) => row.features);
  const scaling = scalingOf(features);
  const regression = new LogisticRegression({ numSteps: options.steps ?? 2_000, learningRate: 0.5 / rows.length });
  regression.train(designMatrix(features, scaling), Matrix.columnVector(rows.map((row) => (row.failed ? 1 : 0))));
  return { featureNames: [...FEATURE_NAMES], scaling, model: JSON.parse(JSON.stringify(regression.toJSON())) as Record<string, unknown> };
}

/** A router read back from its stored form, ready to score. */
export class Router {
  private readonly regression: LogisticRegression;

  constructor(readonly trained: TrainedRouter) {
    const names = trained.featureNames.join(',');
    if (names !== FEATURE_NAMES.join(',')) {
      throw new Error(`router trained on features [${names}], this code computes [${FEATURE_NAMES.join(',')}]: train a new version`);
    }
    this.regression = LogisticRegression.load(trained.model);
  }

  /**
   * p(fail) of each row. The library trains one-against-the-rest per class; its first classifier scores
   * "not class 0", which with the labels 0 (succeeded) and 1 (failed) is the chance of failing.
   */
  scores(rows: ReadonlyArray<readonly number[]>): number[] {
    if (rows.length === 0) return [];
    return this.regression.classifiers[0]!.testScores(designMatrix(rows, this.trained.scaling));
  }
}
