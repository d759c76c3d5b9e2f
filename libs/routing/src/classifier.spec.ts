import { describe, expect, it } from '@jest/globals';
import { Router, trainRouter, type LabelledRequest } from './classifier.js';
import { FEATURE_NAMES } from './features.js';

/** mulberry32, so the data set is the same on every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Requests whose failure chance grows with their code blocks (feature 5), the rest noise. */
function dataSet(count: number, seed: number, informative: boolean): LabelledRequest[] {
  const rand = random(seed);
  return Array.from({ length: count }, () => {
    const features = FEATURE_NAMES.map(() => rand() * 4);
    const chance = informative ? 1 / (1 + Math.exp(-(features[5]! * 2.2 - 7))) : 0.05;
    return { features, failed: rand() < chance };
  });
}

describe('router classifier', () => {
  it('learns which requests fail when a feature tells them apart', () => {
    const router = new Router(trainRouter(dataSet(1_500, 1, true), { steps: 600 }));
    const heldOut = dataSet(500, 2, true);
    const scores = router.scores(heldOut.map((row) => row.features));
    const mean = (rows: number[]) => rows.reduce((a, b) => a + b, 0) / rows.length;
    const failedScore = mean(scores.filter((_, i) => heldOut[i]!.failed));
    const passedScore = mean(scores.filter((_, i) => !heldOut[i]!.failed));
    expect(failedScore).toBeGreaterThan(passedScore + 0.25);
  });

  it('scores every request near the base rate when nothing tells them apart', () => {
    const router = new Router(trainRouter(dataSet(1_500, 3, false), { steps: 600 }));
    const scores = router.scores(dataSet(300, 4, false).map((row) => row.features));
    expect(Math.max(...scores)).toBeLessThan(0.2);
  });

  it('survives its stored form and refuses a version trained on other features', () => {
    const trained = trainRouter(dataSet(300, 5, true), { steps: 100 });
    const stored = JSON.parse(JSON.stringify(trained));
    const row = [dataSet(1, 6, true)[0]!.features];
    expect(new Router(stored).scores(row)).toEqual(new Router(trained).scores(row));
    expect(() => new Router({ ...stored, featureNames: ['other'] })).toThrow(/train a new version/);
  });
});
