import type { Logger } from 'pino';

export interface PeriodicTaskOptions {
  /** The pause between the end of one pass and the start of the next. */
  intervalMs: number;
  /** Logged (warn, with the error) when a pass fails; the loop goes on. */
  failureMessage: string;
  /** The pending timer does not keep the process alive. */
  unref?: boolean;
}

/**
 * A pass run again and again: the first at `start()`, each next one `intervalMs` after the previous one
 * ended, so two never overlap. A failed pass is logged and the next one runs as planned.
 */
export class PeriodicTask {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private active = false;

  constructor(
    private readonly pass: () => Promise<unknown>,
    private readonly logger: Logger,
    private readonly options: PeriodicTaskOptions,
  ) {}

  /** Not started, or asked to stop: a long pass may check it to end early. */
  get stopped(): boolean {
    return !this.active;
  }

  /** The first pass now (or, restarted while a pass still runs, when it ends). */
  start(): void {
    if (this.active) return;
    this.active = true;
    if (!this.running) this.schedule(0);
  }

  /** No pass starts after this; resolves when the running one has ended. */
  async stop(): Promise<void> {
    this.active = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (!this.active) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.pass()
        .then(() => undefined)
        .catch((error: unknown) => this.logger.warn({ err: error }, this.options.failureMessage))
        .finally(() => {
          this.running = null;
          this.schedule(this.options.intervalMs);
        });
    }, delayMs);
    if (this.options.unref) this.timer.unref();
  }
}
