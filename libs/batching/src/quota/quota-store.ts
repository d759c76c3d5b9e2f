import { Redis } from 'ioredis';

/** What one submission adds to a model's counters (spend is reserved and settled in the database: `dailySpend`). */
export interface UsageDelta {
  requests: number;
  tokens: number;
}

export interface ModelUsage {
  minute: UsageDelta;
  day: UsageDelta;
}

/**
 * Per-model counters of what we sent to the provider, per UTC minute and per UTC day. Redis keeps them
 * across restarts and shares them between replicas; the in-process store is for a single process.
 */
export interface QuotaStore {
  readonly kind: 'redis' | 'memory';
  record(model: string, delta: UsageDelta, at?: Date): Promise<void>;
  usage(model: string, at?: Date): Promise<ModelUsage>;
  /** Models with usage on the day of `at`. */
  models(at?: Date): Promise<string[]>;
  close(): Promise<void>;
}

const ZERO: UsageDelta = { requests: 0, tokens: 0 };
export const dayBucket = (at: Date) => at.toISOString().slice(0, 10);
export const minuteBucket = (at: Date) => at.toISOString().slice(0, 16);

export class MemoryQuotaStore implements QuotaStore {
  readonly kind = 'memory' as const;
  private readonly counters = new Map<string, UsageDelta>();

  async record(model: string, delta: UsageDelta, at = new Date()): Promise<void> {
    for (const bucket of [`d:${dayBucket(at)}`, `m:${minuteBucket(at)}`]) {
      const key = `${bucket}|${model}`;
      const current = this.counters.get(key) ?? { ...ZERO };
      this.counters.set(key, add(current, delta));
    }
    this.forgetBefore(at);
  }

  async usage(model: string, at = new Date()): Promise<ModelUsage> {
    return {
      minute: { ...(this.counters.get(`m:${minuteBucket(at)}|${model}`) ?? ZERO) },
      day: { ...(this.counters.get(`d:${dayBucket(at)}|${model}`) ?? ZERO) },
    };
  }

  async models(at = new Date()): Promise<string[]> {
    const prefix = `d:${dayBucket(at)}|`;
    return [...this.counters.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length)).sort();
  }

  async close(): Promise<void> {}

  /** Keeps only today's and this minute's buckets (yesterday's day bucket too, for a report at midnight). */
  private forgetBefore(at: Date): void {
    const yesterday = dayBucket(new Date(at.getTime() - 86_400_000));
    for (const key of this.counters.keys()) {
      const [bucket] = key.split('|');
      if (bucket!.startsWith('d:') ? bucket!.slice(2) < yesterday : bucket!.slice(2) < minuteBucket(at)) this.counters.delete(key);
    }
  }
}

/**
 * Counters in Redis hashes, one per model and bucket (`<prefix>:quota:d:2026-11-23:<model>`), with
 * expiry so old buckets disappear on their own; a set per day lists the models used.
 */
export class RedisQuotaStore implements QuotaStore {
  readonly kind = 'redis' as const;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  static connect(url: string, prefix: string): RedisQuotaStore {
    const redis = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 3, enableOfflineQueue: true });
    // Connection errors surface on the calls that need Redis; this only keeps them out of 'unhandled error'.
    redis.on('error', () => undefined);
    return new RedisQuotaStore(redis, prefix);
  }

  private dayKey(model: string, at: Date) {
    return `${this.prefix}:quota:d:${dayBucket(at)}:${model}`;
  }
  private minuteKey(model: string, at: Date) {
    return `${this.prefix}:quota:m:${minuteBucket(at)}:${model}`;
  }
  private modelsKey(at: Date) {
    return `${this.prefix}:quota:models:${dayBucket(at)}`;
  }

  async record(model: string, delta: UsageDelta, at = new Date()): Promise<void> {
    const multi = this.redis.multi();
    for (const [key, ttl] of [
      [this.dayKey(model, at), 3 * 86_400],
      [this.minuteKey(model, at), 180],
    ] as const) {
      multi.hincrby(key, 'requests', delta.requests).hincrby(key, 'tokens', delta.tokens);
      multi.expire(key, ttl);
    }
    multi.sadd(this.modelsKey(at), model).expire(this.modelsKey(at), 3 * 86_400);
    const results = await multi.exec();
    const failed = results?.find(([error]) => error);
    if (failed) throw failed[0]!;
  }

  async usage(model: string, at = new Date()): Promise<ModelUsage> {
    const [minute, day] = await Promise.all([this.redis.hgetall(this.minuteKey(model, at)), this.redis.hgetall(this.dayKey(model, at))]);
    return { minute: fromHash(minute), day: fromHash(day) };
  }

  async models(at = new Date()): Promise<string[]> {
    return (await this.redis.smembers(this.modelsKey(at))).sort();
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

function add(a: UsageDelta, b: UsageDelta): UsageDelta {
  return { requests: a.requests + b.requests, tokens: a.tokens + b.tokens };
}

function fromHash(hash: Record<string, string>): UsageDelta {
  return { requests: Number(hash.requests ?? 0), tokens: Number(hash.tokens ?? 0) };
}

/** Redis when a URL is configured, otherwise counters in this process. */
export function quotaStoreFrom(redisUrl: string | undefined, prefix: string): QuotaStore {
  return redisUrl ? RedisQuotaStore.connect(redisUrl, prefix) : new MemoryQuotaStore();
}
