import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { Socket } from 'node:net';

/** What a process still holds once a full garbage collection has run, from its own `process.memoryUsage()`. */
export interface LiveHeap {
  /** V8 heap in use after the collection: the live objects. */
  heapUsedMb: number;
  /** Resident set right after the collection. */
  rssMb: number;
}

/**
 * The Node option that lets the bench open a service's V8 inspector later, on a port of its choosing:
 * nothing listens until the process gets SIGUSR1 (Node's own way to start the inspector), so the service
 * runs as in production until the bench asks for its live heap.
 */
export function inspectPortOption(port: number): string {
  return `--inspect-port=127.0.0.1:${port}`;
}

/**
 * Starts the inspector of process `pid` (SIGUSR1; it was started with {@link inspectPortOption}`(port)`),
 * runs a full collection through it (`HeapProfiler.collectGarbage`) and reads `process.memoryUsage()` in
 * the process. No code of the service takes part, and a process started without the option is never asked.
 */
export async function liveHeapAfterFullGc(pid: number, port: number, timeoutMs = 30_000): Promise<LiveHeap> {
  const deadline = Date.now() + timeoutMs;
  process.kill(pid, 'SIGUSR1');
  const target = await inspectorTarget(port, deadline);
  const session = await InspectorSession.open(target, deadline);
  try {
    await session.call('HeapProfiler.collectGarbage', {});
    const evaluated = (await session.call('Runtime.evaluate', { expression: 'process.memoryUsage()', returnByValue: true })) as {
      result: { value: { heapUsed: number; rss: number } };
    };
    const usage = evaluated.result.value;
    return { heapUsedMb: usage.heapUsed / 2 ** 20, rssMb: usage.rss / 2 ** 20 };
  } finally {
    session.close();
  }
}

/** The WebSocket address of the process's one inspector target, once the inspector answers. */
async function inspectorTarget(port: number, deadline: number): Promise<string> {
  for (;;) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/json/list`);
      const [target] = (await response.json()) as Array<{ webSocketDebuggerUrl?: string }>;
      if (target?.webSocketDebuggerUrl) return target.webSocketDebuggerUrl;
    } catch {
      // the inspector is not listening yet
    }
    if (Date.now() > deadline) throw new Error(`no inspector answered on 127.0.0.1:${port}`);
    await new Promise((wake) => setTimeout(wake, 100));
  }
}

/**
 * A minimal client of the inspector's WebSocket (RFC 6455 text frames, client frames masked): Node 20 has
 * no WebSocket client of its own, and these two calls need no more.
 */
class InspectorSession {
  private nextId = 1;
  private received = Buffer.alloc(0);
  private fragments: Buffer[] = [];
  private readonly pending = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();

  private constructor(
    private readonly socket: Socket,
    private readonly deadline: number,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => this.failAll(new Error('the inspector closed the connection')));
    socket.on('error', (error) => this.failAll(error));
  }

  static open(url: string, deadline: number): Promise<InspectorSession> {
    const { hostname, port, pathname } = new URL(url);
    return new Promise((resolve, reject) => {
      const upgrade = request({
        host: hostname,
        port,
        path: pathname,
        headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Key': randomBytes(16).toString('base64'), 'Sec-WebSocket-Version': '13' },
      });
      upgrade.on('upgrade', (_response, socket, head) => {
        const session = new InspectorSession(socket, deadline);
        if (head.length > 0) session.onData(head);
        resolve(session);
      });
      upgrade.on('response', (response) => reject(new Error(`the inspector refused the WebSocket upgrade: HTTP ${response.statusCode}`)));
      upgrade.on('error', reject);
      upgrade.end();
    });
  }

  call(method: string, params: Record<string, unknown>): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.settle(id, new Error(`${method}: no answer from the inspector in time`)), Math.max(this.deadline - Date.now(), 0));
      this.pending.set(id, {
        resolve: (result) => (clearTimeout(timer), resolve(result)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      });
      this.sendText(JSON.stringify({ id, method, params }));
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private sendText(text: string): void {
    const payload = Buffer.from(text);
    const length = payload.length;
    if (length > 0xffff) throw new Error('inspector message too long for this client');
    const header = length < 126 ? Buffer.from([0x81, 0x80 | length]) : Buffer.from([0x81, 0x80 | 126, length >> 8, length & 0xff]);
    const mask = randomBytes(4);
    for (let i = 0; i < length; i++) payload[i]! ^= mask[i % 4]!;
    this.socket.write(Buffer.concat([header, mask, payload]));
  }

  private onData(chunk: Buffer): void {
    this.received = Buffer.concat([this.received, chunk]);
    for (;;) {
      const frame = this.received;
      if (frame.length < 2) return;
      let length = frame[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (frame.length < 4) return;
        length = frame.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (frame.length < 10) return;
        length = Number(frame.readBigUInt64BE(2));
        offset = 10;
      }
      // A server's frames are never masked.
      if (frame.length < offset + length) return;
      const payload = frame.subarray(offset, offset + length);
      this.received = frame.subarray(offset + length);
      const opcode = frame[0]! & 0x0f;
      if (opcode !== 0x0 && opcode !== 0x1) continue; // close, ping and pong: the socket's own events cover them
      this.fragments.push(payload);
      if ((frame[0]! & 0x80) === 0) continue;
      const message = JSON.parse(Buffer.concat(this.fragments).toString('utf8')) as { id?: number; result?: unknown; error?: { message: string } };
      this.fragments = [];
      if (message.id !== undefined) this.settle(message.id, message.error ? new Error(message.error.message) : null, message.result);
    }
  }

  private settle(id: number, error: Error | null, result?: unknown): void {
    const waiter = this.pending.get(id);
    if (!waiter) return;
    this.pending.delete(id);
    if (error) waiter.reject(error);
    else waiter.resolve(result);
  }

  private failAll(error: Error): void {
    for (const id of [...this.pending.keys()]) this.settle(id, error);
  }
}
