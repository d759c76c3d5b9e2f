import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { DataSource } from 'typeorm';
import { cpuSpent } from './scale.js';

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

/** Socket inode → local port, from the text of /proc/<pid>/net/tcp or tcp6 (addresses and ports in hex). */
export function tcpSocketPorts(table: string): Map<string, number> {
  const ports = new Map<string, number>();
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    const local = fields[1];
    const inode = fields[9];
    if (!local || !inode) continue;
    ports.set(inode, Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16));
  }
  return ports;
}

/** The local TCP ports of the sockets processes `pids` hold open. */
export function localTcpPorts(pids: number[]): Set<number> {
  const ports = new Set<number>();
  for (const pid of pids) {
    try {
      const table = new Map([...tcpSocketPorts(readFileSync(`/proc/${pid}/net/tcp`, 'utf8')), ...tcpSocketPorts(readFileSync(`/proc/${pid}/net/tcp6`, 'utf8'))]);
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        const port = inode === undefined ? undefined : table.get(inode);
        if (port !== undefined) ports.add(port);
      }
    } catch {
      // the process is gone, or one of its descriptors closed while read
    }
  }
  return ports;
}

/**
 * CPU time of the PostgreSQL backends serving the processes `clients()` (the services): a backend is theirs when the
 * port its client connects from (`pg_stat_activity.client_port`) is a socket of one of them, so the bench's own
 * queries do not count. Read from /proc every `intervalMs` while the run goes on, as a pool closes connections it no
 * longer needs and a backend's CPU time goes with it. `stop()` gives the seconds spent since `start()`, or null when
 * none of them was seen (PostgreSQL on another host, or reached through a Unix socket).
 */
export class BackendCpuWatch {
  private readonly baseline = new Map<number, number>();
  private readonly latest = new Map<number, number>();
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly clients: () => number[],
    private readonly intervalMs = 1000,
  ) {}

  async start(): Promise<void> {
    await this.sample(this.baseline);
    this.timer = setInterval(() => void this.sample(this.latest), this.intervalMs);
  }

  async stop(): Promise<number | null> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    while (this.busy) await new Promise((wake) => setTimeout(wake, 50));
    await this.sample(this.latest);
    return this.latest.size === 0 ? null : cpuSpent(this.baseline, this.latest);
  }

  private async sample(into: Map<number, number>): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const ports = localTcpPorts(this.clients());
      const backends: Array<{ pid: number; port: number }> = await this.dataSource.query(
        'SELECT pid, client_port AS port FROM pg_stat_activity WHERE datname = current_database() AND client_port IS NOT NULL',
      );
      for (const { pid, port } of backends) {
        // A pid of another host's server may name an unrelated process here.
        if (!ports.has(port) || readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'postgres') continue;
        const figures = processFigures(pid);
        if (figures) into.set(pid, figures.cpuSeconds);
      }
    } catch {
      // not on this host, or a backend just ended: the next sample reads again
    } finally {
      this.busy = false;
    }
  }
}
