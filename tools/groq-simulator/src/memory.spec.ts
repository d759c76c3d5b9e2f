import { describe, expect, it } from '@jest/globals';
import { measureLargeBatch } from '../bench/large-batch.js';

describe('Groq simulator memory', () => {
  it('runs a 50,000-line batch without the resident set growing by more than 100 MB', async () => {
    const figures = await measureLargeBatch(50_000);
    process.stdout.write(`simulator, 50,000-line batch: ${JSON.stringify(figures)}\n`);
    expect(figures.status).toBe('completed');
    expect(figures.outputLines + figures.errorLines).toBe(50_000);
    expect(figures.errorLines).toBeGreaterThan(1_000);
    expect(figures.growthMb).toBeLessThan(100);
  }, 60_000);
});
