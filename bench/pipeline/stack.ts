import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, type ServiceProcess, freePort, spawnService, stopService, waitReady } from '../../apps/cli/src/demo/local-stack.js';
import type { GroqSimulator } from '../../tools/groq-simulator/src/simulator.js';

export const SERVICES = ['result-writer', 'retry-service', 'poller', 'batch-submitter'] as const;

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on Linux). */
const USER_HZ = 100;

export interface ProcessFigures {
  /** VmHWM: the kernel's high-water mark of the resident set, in MB. */
  peakMb: number;
  /** User + system CPU time so far, in seconds. */
  cpuSeconds: number;
}

/** Peak RSS and CPU time of a live process, from /proc; null once it is gone. */
export function processFigures(pid: number): ProcessFigures | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const peakKb = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
    // Fields after the command name, which sits in parentheses and may contain spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return { peakMb: peakKb / 1024, cpuSeconds: ticks / USER_HZ };
  } catch {
    return null;
  }
}

export interface RunningServices {
  services: ServiceProcess[];
  /** Reads every service's VmHWM and CPU time (before stopping it: they die with the process), then stops them. */
  stop(): Promise<Record<string, ProcessFigures | null>>;
}

/** The four services from the build, each a process of its own, logs under `.cascade/bench/logs/<phase>`. */
export async function startServices(env: NodeJS.ProcessEnv, phase: string): Promise<RunningServices> {
  const logDir = join(REPO_ROOT, '.cascade/bench/logs', phase);
  const services: ServiceProcess[] = [];
  let stopped: Record<string, ProcessFigures | null> | null = null;
  const stop = async () => {
    if (stopped) return stopped;
    const peaks: Record<string, ProcessFigures | null> = {};
    for (const service of services) {
      peaks[service.name] = service.child.pid !== undefined && service.child.exitCode === null ? processFigures(service.child.pid) : null;
    }
    for (const service of services) await stopService(service);
    stopped = peaks;
    return peaks;
  };
  try {
    for (const name of SERVICES) services.push(spawnService(name, env, await freePort(), logDir));
    await Promise.all(services.map((service) => waitReady(service, 120_000)));
  } catch (error) {
    await stop();
    throw error;
  }
  return { services, stop };
}

/**
 * When the provider marked each batch completed, to about `intervalMs`: the simulator's own
 * `completed_at` is in whole seconds, too coarse for sub-second stages, so its batch list is polled.
 */
export class ProviderWatch {
  readonly completedAt = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(
    private readonly simulator: GroqSimulator,
    private readonly intervalMs = 100,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.poll(), this.intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.poll();
  }

  private async poll(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const response = await fetch(`${this.simulator.url}/openai/v1/batches`, { headers: { authorization: 'Bearer simulator-local-key' } });
      const now = Date.now();
      const list = (await response.json()) as { data: Array<{ id: string; status: string }> };
      for (const batch of list.data) {
        if (batch.status === 'completed' && !this.completedAt.has(batch.id)) this.completedAt.set(batch.id, now);
      }
    } catch {
      // the next tick tries again
    } finally {
      this.busy = false;
    }
  }
}
