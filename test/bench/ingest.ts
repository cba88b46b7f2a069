// Engagement ingestion over HTTP: open pixels and tracked clicks (about 70/30) against the server in its
// own process, 32 connections from 32 loopback addresses (each its own client, as mail proxies and
// readers are). Reports answered events/s and latency, then how fast the events reached the table
// (the drain check), and the server's peak RSS. Target: >= 5,000 events/s, p99 < 20 ms.
//   npx tsx test/bench/ingest.ts          (alone; also the last part of `npm run bench` unless BENCH_INGEST=0)
import { fork } from "node:child_process";
import net from "node:net";
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { loadConfig } from "../../src/config.js";
import { openDatabase } from "../../src/db/database.js";
import { withTenantTransaction } from "../../src/db/tenant-transaction.js";
import { ROLE_PERMISSIONS } from "../../src/modules/auth/permissions.js";
import { createTemplate, setTemplateStatus } from "../../src/modules/templates/service.js";
import { issueCredential } from "../../src/modules/credentials/service.js";
import { emailTracking } from "../../src/modules/engagement/tracking.js";
import { describeLoad, runLoad, type LoadResult } from "./load.js";
import { mailSettings } from "../../src/modules/delivery/compose.js";

export interface IngestFigures {
  load: LoadResult;
  persisted: number;
  persistedPerSecond: number;
  drainSeconds: number;
  peakRssMb: number;
  serverCpuMicrosPerEvent: number;
}

export async function benchIngest(serverUrl: string, { seconds = 10, concurrency = 32, credentials = 50 } = {}): Promise<IngestFigures> {
  const dbName = `laurel_bench_${randomBytes(4).toString("hex")}`;
  const adminUrl = Object.assign(new URL(serverUrl), { pathname: `/${dbName}` }).toString();
  const root = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await root.unsafe(`create database "${dbName}"`);
  try {
    const keks = `1:${randomBytes(32).toString("base64")}`;
    const config = loadConfig({ ...process.env, DATABASE_URL: adminUrl, LAUREL_KEKS: keks });
    const database = await openDatabase(config);
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
    const [seed] = await admin`select user_id, tenant_id from sign_up('ingest@example.test', 'Ingest', 'x', 'Ingest University', 'ingest-university')`;
    const tenantId = seed!.tenant_id as string;
    const caller = { tenantId, actor: { kind: "user" as const, id: seed!.user_id as string }, permissions: ROLE_PERMISSIONS.owner, requestId: "bench" };
    const claims = { dbRole: config.roles.member, tenantId, userId: caller.actor.id };
    const settings = mailSettings(config);
    const ids = await withTenantTransaction(database, claims, async (db) => {
      const t = await createTemplate(db, caller, "BADGE", { name: "Ingest Badge", description: "For benchmarks.", criteriaNarrative: "Be counted." });
      await setTemplateStatus(db, caller, t.id, "ACTIVE");
      const out: string[] = [];
      for (let i = 0; i < credentials; i++) {
        const c = await issueCredential(db, caller, { templateId: t.id, recipient: { email: `reader${i}@bench.test`, name: `Reader ${i}` } }, settings);
        out.push(c.id);
      }
      return out;
    }, { timeout: 120_000 });
    await database.close();

    // Paths as an email would carry them: one pixel and one link per credential.
    const paths = ids.flatMap((credentialId) => {
      const t = emailTracking(settings, { tenantId, credentialId });
      const path = (url: string) => url.slice(settings.publicUrl.length);
      return [path(t.pixelUrl), path(t.pixelUrl), path(t.pixelUrl), path(t.pixelUrl), path(t.pixelUrl), path(t.pixelUrl), path(t.pixelUrl),
        path(t.link(`https://example.test/${credentialId}`)), path(t.link(`https://example.test/${credentialId}`, "view")), path(t.link("https://example.test/", "linkedin"))];
    });

    const child = fork(new URL("./server-process.ts", import.meta.url).pathname, [], {
      execArgv: ["--import", "tsx"],
      env: { ...process.env, DATABASE_URL: adminUrl, NODE_ENV: "production", DATABASE_POOL_SIZE: "10", LAUREL_RUN_WORKER: "false", LAUREL_KEKS: keks },
    });
    const url = new URL(await new Promise<string>((resolve) => child.on("message", (m: { url?: string }) => m.url && resolve(m.url))));
    // One keep-alive connection per worker, each from its own loopback address, so per-client rate
    // limits apply as in life. A raw HTTP/1.1 client: node:http's client costs more CPU than the
    // endpoint under test, and it shares the machine with the server.
    const clients = await Promise.all(Array.from({ length: concurrency }, (_, i) => connect(url, `127.0.${1 + Math.floor(i / 250)}.${2 + (i % 250)}`)));
    const idle = [...clients]; // each request in flight holds one connection; there are as many as workers
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
    const count = async () => ((await admin`select count(*)::int as n from engagement_events`)[0]!.n as number);

    await runLoad(get, { concurrency, seconds: 2 }); // warm-up
    const drained = async (expected: number, from: number) => {
      for (let last = -1; ; ) {
        const n = (await count()) - from;
        if (n >= expected || n === last) return n;
        last = n;
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    const baseline = await count().then(async (n) => (await new Promise((r) => setTimeout(r, 500)), Math.max(n, await count())));
    const started = performance.now();
    const cpuBefore = await cpuSeconds(child.pid!);
    const load = await runLoad(get, { concurrency, seconds });
    const serverCpu = (await cpuSeconds(child.pid!)) - cpuBefore;
    const persisted = await drained(load.requests - load.errors, baseline);
    const drainSeconds = (performance.now() - started) / 1000;
    const peakRssMb = await new Promise<number>((resolve) => {
      child.on("message", (m: { peakRssMb?: number }) => m.peakRssMb && resolve(m.peakRssMb));
      child.kill("SIGTERM");
    });
    await admin.end();
    for (const client of clients) client.close();
    const figures = { load, persisted, persistedPerSecond: persisted / drainSeconds, drainSeconds, peakRssMb, serverCpuMicrosPerEvent: (serverCpu * 1e6) / load.requests };
    console.log(`\nEngagement ingestion over HTTP (pixel 70% / click 30%, ${concurrency} clients, ${seconds}s)`);
    console.log(describeLoad("events answered", load));
    console.log(`events persisted: ${persisted} of ${load.requests - load.errors} answered, ${figures.persistedPerSecond.toFixed(0)}/s from start to drained (${drainSeconds.toFixed(1)}s)`);
    // The load generator shares the machine: the server's own CPU per event says what one core can take.
    console.log(`server CPU: ${figures.serverCpuMicrosPerEvent.toFixed(0)} µs per event (HTTP included; ${(1e6 / figures.serverCpuMicrosPerEvent).toFixed(0)} events/s per core)`);
    console.log(`server peak RSS: ${peakRssMb.toFixed(0)} MB   targets: >= 5000 events/s, p99 < 20 ms\n`);
    return figures;
  } finally {
    await root.unsafe(`drop database if exists "${dbName}" with (force)`);
    await root.end();
  }
}

/** CPU time (user + system) a process has used, from /proc (Linux). */
async function cpuSeconds(pid: number): Promise<number> {
  const { readFile } = await import("node:fs/promises");
  const fields = (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

const USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";

/** One keep-alive HTTP/1.1 connection that sends a GET and reads back a Content-Length response. */
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

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchIngest(process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres", {
    seconds: Number(process.env.BENCH_SECONDS ?? 10),
    concurrency: Number(process.env.BENCH_INGEST_CONCURRENCY ?? 32),
  });
}
