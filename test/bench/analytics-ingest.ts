// Engagement ingestion with the analytics aggregates in place: the approach of ingest.ts (open pixels
// and tracked clicks, about 70/30, 32 keep-alive connections from 32 loopback addresses, the server in
// its own process) against the seeded tenant, whose triggers now keep first touches, stage masks and
// rollups on every flush. Credentials are the tenant's own recent ones, so first touches and masks
// still move. Reports answered events/s and latency, how fast the events reached the table, and the
// server's CPU per event. Target: >= 5,000 events/s, p99 < 20 ms.
import net from "node:net";
import { readFile } from "node:fs/promises";
import postgres from "postgres";
import { emailTracking, type TrackingSettings } from "../../src/modules/engagement/tracking.js";
import { describeLoad, runLoad, type LoadResult } from "./load.js";

export interface SeededIngestFigures {
  load: LoadResult;
  persisted: number;
  persistedPerSecond: number;
  drainSeconds: number;
  serverCpuMicrosPerEvent: number;
}

export async function benchIngestSeeded(o: {
  serverUrl: string;
  serverPid: number;
  adminUrl: string;
  tenantId: string;
  settings: TrackingSettings;
  seconds?: number;
  concurrency?: number;
  credentials?: number;
}): Promise<SeededIngestFigures> {
  const { seconds = 10, concurrency = 32, credentials = 2_000 } = o;
  const admin = postgres(o.adminUrl, { max: 1, onnotice: () => {} });
  try {
    // Recent credentials of recipients who allow tracking (the pixel is only in their emails), with their message.
    const rows = await admin<{ id: string; message_id: string }[]>`
      select c.id, m.id as message_id
        from credentials c
        join recipients r on r.tenant_id = c.tenant_id and r.id = c.recipient_id
        join email_outbox m on m.tenant_id = c.tenant_id and m.credential_id = c.id
       where c.tenant_id = ${o.tenantId} and r.tracking_consent and r.restricted_at is null and m.status = 'delivered'
       order by c.issued_at desc limit ${credentials}`;
    // Tokens made an hour ago: a click within seconds of rendering would be taken for a link scanner.
    const madeAt = Date.now() - 3_600_000;
    const paths = rows.flatMap(({ id, message_id }) => {
      const t = emailTracking(o.settings, { tenantId: o.tenantId, credentialId: id, messageId: message_id }, madeAt);
      const path = (u: string) => u.slice(o.settings.publicUrl.replace(/\/$/, "").length);
      const pixel = path(t.pixelUrl);
      return [pixel, pixel, pixel, pixel, pixel, pixel, pixel,
        path(t.link(`https://example.test/${id}`)), path(t.link(`https://example.test/${id}`, "view")), path(t.link("https://example.test/", "linkedin"))];
    });
    // Interleave credentials so each flush touches many of them, as real traffic does.
    for (let i = paths.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [paths[i], paths[j]] = [paths[j]!, paths[i]!];
    }
    const url = new URL(o.serverUrl);
    const clients = await Promise.all(Array.from({ length: concurrency }, (_, i) => connect(url, `127.0.${1 + Math.floor(i / 250)}.${2 + (i % 250)}`)));
    const idle = [...clients];
    let next = 0;
    const get = async () => {
      const client = idle.pop()!;
      try {
        const status = await client.get(paths[next++ % paths.length]!);
        return status === 200 || status === 302;
      } finally {
        idle.push(client);
      }
    };
    // Only events since `since` (the primary key leads with tenant and time): no scan of ten million rows.
    const count = async (since: Date) =>
      (await admin`select count(*)::int as n from engagement_events where tenant_id = ${o.tenantId} and occurred_at >= ${since}`)[0]!.n as number;

    // Waits until the table stops growing for `quietMs` (the recorder flushes behind the answers).
    const settle = async (since: Date, expected: number, quietMs: number, capMs: number) => {
      const deadline = performance.now() + capMs;
      let n = await count(since);
      let changed = performance.now();
      while (n < expected && performance.now() - changed < quietMs && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        const m = await count(since);
        if (m !== n) (n = m), (changed = performance.now());
      }
      return n;
    };
    const warmFrom = new Date(Date.now() - 1000);
    const warm = await runLoad(get, { concurrency, seconds: 2 }); // warm-up
    await settle(warmFrom, warm.requests - warm.errors, 3_000, 120_000);
    const since = new Date(Date.now() - 1000);
    const baseline = await count(since);
    const started = performance.now();
    const cpuBefore = await cpuSeconds(o.serverPid);
    const load = await runLoad(get, { concurrency, seconds });
    const serverCpu = (await cpuSeconds(o.serverPid)) - cpuBefore;
    const expected = load.requests - load.errors;
    const persisted = (await settle(since, baseline + expected, 3_000, 300_000)) - baseline;
    // Drained: when the last event landed (the settle loop waits 3 s of quiet after it, not counted).
    const drainSeconds = persisted >= expected ? (performance.now() - started) / 1000 : (performance.now() - started - 3_000) / 1000;
    for (const client of clients) client.close();
    const figures = { load, persisted, persistedPerSecond: persisted / drainSeconds, drainSeconds, serverCpuMicrosPerEvent: (serverCpu * 1e6) / load.requests };
    console.log(`\nEngagement ingestion over HTTP into the seeded tenant, aggregates kept by the triggers (pixel 70% / click 30%, ${concurrency} clients, ${seconds}s, ${rows.length} credentials)`);
    console.log(describeLoad("events answered", load));
    console.log(`events persisted: ${persisted} of ${expected} answered, ${figures.persistedPerSecond.toFixed(0)}/s from start to drained (${drainSeconds.toFixed(1)}s)`);
    console.log(`server CPU: ${figures.serverCpuMicrosPerEvent.toFixed(0)} µs per event (HTTP included)   targets: >= 5000 events/s, p99 < 20 ms`);
    return figures;
  } finally {
    await admin.end();
  }
}

/** CPU time (user + system) a process has used, from /proc (Linux). */
export async function cpuSeconds(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

const USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";

/** One keep-alive HTTP/1.1 connection that sends a GET and reads back a Content-Length response (as ingest.ts). */
async function connect(url: URL, localAddress: string) {
  const socket = net.connect({ host: url.hostname, port: Number(url.port), localAddress });
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  let buffered: Buffer = Buffer.alloc(0);
  let waiting: ((status: number) => void) | null = null;
  let failing: ((error: Error) => void) | null = null;
  socket.on("data", (chunk: Buffer) => {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    const end = buffered.indexOf("\r\n\r\n");
    if (end < 0) return;
    const head = buffered.subarray(0, end).toString("latin1");
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    if (buffered.length < end + 4 + length) return;
    buffered = buffered.subarray(end + 4 + length);
    const resolve = waiting;
    waiting = failing = null;
    resolve?.(Number(head.slice(9, 12)));
  });
  socket.on("error", (error) => failing?.(error));
  return {
    get(path: string): Promise<number> {
      return new Promise((resolve, reject) => {
        waiting = resolve;
        failing = reject;
        socket.write(`GET ${path} HTTP/1.1\r\nhost: ${url.host}\r\nuser-agent: ${USER_AGENT}\r\n\r\n`);
      });
    },
    close: () => socket.destroy(),
  };
}
