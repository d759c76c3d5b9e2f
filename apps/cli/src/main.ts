import 'reflect-metadata';
import { CommandFactory } from 'nest-commander';
import { CliModule } from './cli.module.js';

/** `cascade <command>`: the operators' command line. */
await CommandFactory.run(CliModule, {
  logger: ['error'],
  errorHandler: (error) => {
    // Commander reports --help and --version as errors with these codes: they are not failures.
    const code = (error as Error & { code?: string }).code ?? '';
    if (['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(code)) process.exit(0);
    process.stderr.write(`cascade: ${error.message}\n`);
    process.exit(2);
  },
  // A command that throws failed: say why and exit 1 (never 0).
  serviceErrorHandler: (error) => {
    process.stderr.write(`cascade: ${error.message}\n`);
    process.exit(1);
  },
});
