/**
 * Runs `work` while heartbeating the consumer group every `everyMs`: a handler that takes longer than the
 * session timeout would otherwise be evicted, its partitions moved and its message delivered again.
 * kafkajs only heartbeats between messages by itself; its `heartbeat()` is throttled to the configured
 * heartbeat interval, and fails harmlessly during a rebalance.
 */
export async function withHeartbeat<T>(heartbeat: () => Promise<void>, work: () => Promise<T>, everyMs = 1_000): Promise<T> {
  const timer = setInterval(() => {
    heartbeat().catch(() => undefined);
  }, everyMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
