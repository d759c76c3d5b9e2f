import { runSimulatorCli } from './cli.js';

/** `node dist/tools/groq-simulator/src/main.js --port 18080 --seed 42 --latency-ms 0` (flags: `--help`). */
await runSimulatorCli('groq', process.argv.slice(2));
