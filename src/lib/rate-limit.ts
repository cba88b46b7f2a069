// A token bucket per key (a client address, an account), in memory: enough to blunt scraping, floods
// and password guessing against one instance. Behind a proxy, a shared limiter belongs at the edge.
export function createRateLimiter({ perSecond, burst, maxClients = 50_000 }: { perSecond: number; burst: number; maxClients?: number }) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    allow(client: string, now = Date.now()): boolean {
      const bucket = buckets.get(client) ?? { tokens: burst, at: now };
      bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
      bucket.at = now;
      const ok = bucket.tokens >= 1;
      if (ok) bucket.tokens -= 1;
      buckets.delete(client);
      buckets.set(client, bucket);
      if (buckets.size > maxClients) buckets.delete(buckets.keys().next().value!);
      return ok;
    },
  };
}
