// The engagement buffer: HTTP handlers hand events over synchronously and answer at once; a flusher
// writes them in batches, one record_engagement_events() call per batch, as the anonymous role (the
// definer function decides which tenant each event belongs to and whether it may name anyone).
import type { Database } from "../../db/database.js";
import type { Config } from "../../config.js";
import { withTenantSql } from "../../db/tenant-transaction.js";
import type { UaClass } from "./classify.js";

export type EngagementType = "email_opened" | "link_clicked" | "page_viewed" | "shared" | "linkedin_added" | "downloaded" | "verified" | "claimed";
export type Channel = "email" | "web" | "api" | "linkedin" | "social" | "verifier";

export interface EngagementInput {
  tenantId: string;
  credentialId: string;
  messageId?: string | null;
  type: EngagementType;
  channel: Channel;
  network?: string | null;
  format?: "json" | "png" | "svg" | "pdf" | null;
  uaClass: UaClass;
  ipHash: string | null;
  machine: boolean;
  occurredAt?: Date;
}

export interface RecorderStats {
  recorded: number;
  written: number;
  /** Refused because the buffer was full (the database is slower than the traffic). */
  dropped: number;
  /** Lost with a batch that failed twice. */
  failed: number;
  buffered: number;
}

export interface EngagementRecorder {
  /** O(1), never waits: false when the event was dropped (buffer full, or stopped). */
  record(event: EngagementInput): boolean;
  /** Writes everything recorded so far. */
  flush(): Promise<void>;
  /** Flushes and stops accepting events: call after the HTTP server stops taking requests. */
  stop(): Promise<void>;
  stats(): RecorderStats;
}

export interface RecorderOptions {
  batchSize?: number;
  intervalMs?: number;
  /** Events held in memory at most, written or not; beyond it new events are dropped and counted. */
  maxBuffered?: number;
  /** Batches written at once; the rest wait their turn (they share the pool with public reads). */
  maxInFlight?: number;
  retryDelayMs?: number;
  log?: (message: string) => void;
}

/** record_engagement_events() refuses larger batches (sql/017). */
export const MAX_BATCH = 1000;

// The wire shape record_engagement_events() reads with jsonb_to_recordset (snake_case keys).
type Row = Record<string, string | boolean | null>;

function toRow(e: EngagementInput): Row {
  return {
    tenant_id: e.tenantId,
    credential_id: e.credentialId,
    message_id: e.messageId ?? null,
    type: e.type,
    channel: e.channel,
    network: e.network ?? null,
    format: e.format ?? null,
    ua_class: e.uaClass,
    ip_hash: e.ipHash,
    machine: e.machine,
    occurred_at: (e.occurredAt ?? new Date()).toISOString(),
  };
}

export function createEngagementRecorder(app: { database: Database; config: Pick<Config, "roles"> }, options: RecorderOptions = {}): EngagementRecorder {
  const batchSize = Math.min(options.batchSize ?? 500, MAX_BATCH);
  const intervalMs = options.intervalMs ?? 50;
  const maxBuffered = options.maxBuffered ?? 50_000;
  const maxInFlight = options.maxInFlight ?? 2;
  const retryDelayMs = options.retryDelayMs ?? 250;
  const log = options.log ?? ((message: string) => console.error(message));
  const claims = { dbRole: app.config.roles.anonymous, tenantId: null, userId: null };

  let buffer: Row[] = [];
  let inFlightEvents = 0;
  const inFlight = new Set<Promise<void>>();
  let timer: NodeJS.Timeout | undefined;
  let immediate = false;
  let stopped = false;
  const stats = { recorded: 0, written: 0, dropped: 0, failed: 0 };

  async function write(batch: Row[]): Promise<void> {
    const json = JSON.stringify(batch);
    for (let attempt = 1; ; attempt++) {
      try {
        // Serialized once, up front; ::text keeps postgres.js from encoding the string as JSON again.
        await withTenantSql(app.database.sql, claims, (tx) => tx`select record_engagement_events(${json}::text::jsonb)`);
        stats.written += batch.length;
        return;
      } catch (error) {
        if (attempt >= 2) {
          stats.failed += batch.length;
          // The batch holds hashes only, but the message is all the log needs.
          log(`engagement: dropped a batch of ${batch.length} events after a retry: ${(error as Error).message}`);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, retryDelayMs));
      }
    }
  }

  function pump(): void {
    if (timer) clearTimeout(timer);
    timer = undefined;
    immediate = false;
    while (buffer.length > 0 && inFlight.size < maxInFlight) {
      const batch = buffer.length <= batchSize ? buffer : buffer.slice(0, batchSize);
      buffer = batch === buffer ? [] : buffer.slice(batchSize);
      inFlightEvents += batch.length;
      const done: Promise<void> = write(batch).finally(() => {
        inFlightEvents -= batch.length;
        inFlight.delete(done);
        if (buffer.length >= batchSize || (stopped && buffer.length > 0)) pump();
        else schedule();
      });
      inFlight.add(done);
    }
  }

  function schedule(): void {
    if (!timer && buffer.length > 0) {
      timer = setTimeout(pump, intervalMs);
      timer.unref(); // a pending flush alone never keeps the process alive; stop() drains it
    }
  }

  async function flush(): Promise<void> {
    while (buffer.length > 0 || inFlight.size > 0) {
      pump();
      await Promise.race(inFlight);
    }
  }

  return {
    record(event) {
      if (stopped || buffer.length + inFlightEvents >= maxBuffered) {
        stats.dropped++;
        return false;
      }
      buffer.push(toRow(event));
      stats.recorded++;
      if (buffer.length >= batchSize && inFlight.size < maxInFlight) {
        if (!immediate) setImmediate(pump); // a full batch goes now, after this request's answer
        immediate = true;
      } else schedule();
      return true;
    },
    flush,
    async stop() {
      stopped = true;
      await flush();
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
    stats: () => ({ ...stats, buffered: buffer.length + inFlightEvents }),
  };
}
