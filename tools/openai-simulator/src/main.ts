import { runSimulatorCli } from '../../groq-simulator/src/cli.js';

/** `node dist/tools/openai-simulator/src/main.js --port 18081 --seed 42 --latency-ms 0` (flags: `--help`). */
await runSimulatorCli('openai', process.argv.slice(2));
