import type { z } from 'zod';
import { parseEnv, type ServiceIdentity } from '../config/service-config.js';
import type { TracingHandle } from '../tracing/start-tracing.js';
import { tracingEnv, tracingRequested } from '../tracing/tracing-env.js';
import type { ServiceDefinition } from './bootstrap-service.js';

/**
 * A service's `main.ts`: starts tracing when the OTEL_* variables ask for it, then imports the service.
 * The order matters in an ES module program: the instrumentations patch pg, http and express only if
 * their hooks are in place before those modules are first imported, so nothing of the service (nor this
 * library's index) is imported statically here. With tracing off, the SDK is never loaded.
 */
export async function launchService<S extends z.ZodObject>(identity: ServiceIdentity, load: () => Promise<ServiceDefinition<S>>): Promise<void> {
  let tracing: TracingHandle | null = null;
  try {
    const env = parseEnv(tracingEnv);
    if (tracingRequested(env)) {
      const { startTracing } = await import('../tracing/start-tracing.js');
      tracing = await startTracing({ serviceName: env.OTEL_SERVICE_NAME ?? identity.name, instrument: true });
    }
  } catch (error) {
    process.stderr.write(`${identity.name} failed to start: ${(error as Error).message}\n`);
    process.exit(1);
  }
  await import('reflect-metadata');
  const { runService } = await import('./bootstrap-service.js');
  await runService(await load(), tracing);
}
