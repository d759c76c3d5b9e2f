import { measureLargeBatch } from './large-batch.js';

/**
 * `node dist/tools/groq-simulator/bench/memory.js [lines]`: one large batch through the simulator, with
 * its memory figures. Exits 1 when the resident set grew by more than the 100 MB budget.
 */
const lines = Number(process.argv[2] ?? 50_000);
const budgetMb = 100;
const figures = await measureLargeBatch(lines);
process.stdout.write(
  `Groq simulator, one batch of ${figures.lines} lines (${figures.inputMb} MB input)\n` +
    Object.entries(figures)
      .map(([name, value]) => `  ${name}: ${value}`)
      .join('\n') +
    `\n  budget: RSS growth <= ${budgetMb} MB → ${figures.growthMb <= budgetMb ? 'within' : 'OVER'}\n`,
);
process.exitCode = figures.growthMb <= budgetMb && figures.outputLines + figures.errorLines === figures.lines ? 0 : 1;
