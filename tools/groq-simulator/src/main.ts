import { parseArgs } from 'node:util';
import { startGroqSimulator } from './simulator.js';

/** `node dist/tools/groq-simulator/src/main.js --port 18080 --seed 42 --stage-delay-ms 0` */
const { values } = parseArgs({
  options: {
    host: { type: 'string', default: process.env.GROQ_SIMULATOR_HOST ?? '127.0.0.1' },
    port: { type: 'string', default: process.env.GROQ_SIMULATOR_PORT ?? '18080' },
    seed: { type: 'string', default: process.env.GROQ_SIMULATOR_SEED ?? '42' },
    'stage-delay-ms': { type: 'string', default: process.env.GROQ_SIMULATOR_STAGE_DELAY_MS ?? '0' },
    'per-line-delay-ms': { type: 'string', default: process.env.GROQ_SIMULATOR_PER_LINE_DELAY_MS ?? '0' },
  },
});
const simulator = await startGroqSimulator({
  host: values.host,
  port: Number(values.port),
  seed: Number(values.seed),
  stageDelayMs: Number(values['stage-delay-ms']),
  perLineDelayMs: Number(values['per-line-delay-ms']),
});
process.stdout.write(`Groq simulator listening on ${simulator.url} (set GROQ_BASE_URL to it)\n`);
const stop = () => {
  simulator.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
