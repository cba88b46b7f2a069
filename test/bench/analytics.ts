// `npm run bench:analytics` (issue 9's benchmark): every analytics operation through the HTTP API on a
// tenant with 1,000,000 credentials and 10,000,000 events (beside a second tenant of the same size),
// then event ingestion with the aggregates in place. Prints figures and ratios; asserts nothing.
//
//   1. The seed (analytics-seed.ts): made once in laurel_bench_analytics and reused while it holds the
//      expected rows (`-- --reseed` rebuilds it); its rebuild time and the backend's peak memory.
//   2. compact_engagement_analytics() as the worker's cron runs it, then the rollup tables' row counts.
//   3. The server in its own process (server-process.ts), an analyst API key (scope analytics), the
//      SDK's own documents (schema/operations/analytics.graphql) over HTTP: per case 3 warm-ups then
//      20 sequential calls, p50 and p99 (nearest rank: of 20 calls, the slowest) against the targets
//      p50 <= 50 ms, p99 <= 150 ms. Ranges end at the seed's "now" (on a 15-minute boundary): the
//      last 30 days and the last 365 days, so their edges fall inside days as an analyst's do.
//   4. Ingestion (analytics-ingest.ts) into the seeded tenant, then the compaction of what it wrote.
//
// Environment: BENCH_DATABASE_URL (superuser URL of the cluster), BENCH_CALLS (20), BENCH_WARMUP (3),
// BENCH_ANALYTICS_DB / _CREDENTIALS / _EVENTS (a smaller seed in another database, to try things out),
// BENCH_ONLY (a regular expression over "operation range filter" to run a subset), BENCH_INGEST=0 to skip
// ingestion, BENCH_SECONDS (ingestion seconds, 10), BENCH_JIT=off (a diagnosis, not the deployment:
// `alter database ... set jit = off` for the run, reset after).
import { fork } from "node:child_process";
import http from "node:http";
import os from "node:os";
import { encodeGlobalID } from "@pothos/plugin-relay";
import postgres from "postgres";
import { loadConfig } from "../../src/config.js";
import { createPrisma } from "../../src/db/database.js";
import { withTenantTransaction } from "../../src/db/tenant-transaction.js";
import { createApiKey } from "../../src/modules/api-keys/service.js";
import { ROLE_PERMISSIONS } from "../../src/modules/auth/permissions.js";
import { mailSettings } from "../../src/modules/delivery/compose.js";
import {
  DeliveryHealthDocument, EngagementBreakdownDocument, EngagementFunnelDocument, EngagementLatencyDocument,
  EngagementTimeSeriesDocument, TopTemplatesDocument,
} from "../../src/sdk/generated.js";
import { TEST_ENV, TEST_ROLES } from "../helpers/env.js";
import { seedAnalytics } from "./analytics-seed.js";
import { benchIngestSeeded, cpuSeconds } from "./analytics-ingest.js";

const CALLS = Number(process.env.BENCH_CALLS ?? 20);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3);
const ONLY = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY, "i") : null;
const P50_TARGET = 50;
const P99_TARGET = 150;
const serverUrl = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

// The test roles, never a deployment's laurel_* roles on the same cluster (the server child inherits them).
Object.assign(process.env, TEST_ENV);
const seed = await seedAnalytics({
  serverUrl,
  reseed: process.argv.includes("--reseed"),
  // A smaller seed of its own, for trying the harness out: BENCH_ANALYTICS_DB, _CREDENTIALS, _EVENTS.
  database: process.env.BENCH_ANALYTICS_DB,
  credentials: process.env.BENCH_ANALYTICS_CREDENTIALS ? Number(process.env.BENCH_ANALYTICS_CREDENTIALS) : undefined,
  events: process.env.BENCH_ANALYTICS_EVENTS ? Number(process.env.BENCH_ANALYTICS_EVENTS) : undefined,
  rebuildTenants: process.env.BENCH_ANALYTICS_REBUILD_TENANTS ? Number(process.env.BENCH_ANALYTICS_REBUILD_TENANTS) : undefined,
});
const jitOff = process.env.BENCH_JIT === "off";
const database = new URL(seed.adminUrl).pathname.slice(1);
const [tenant] = seed.tenants;
const config = loadConfig({ ...process.env, DATABASE_URL: seed.adminUrl });
const admin = postgres(seed.adminUrl, { max: 1, onnotice: () => {} });

console.log(`\nSeed: 2 tenants x ${seed.info.credentials.toLocaleString()} credentials, ${seed.info.events.toLocaleString()} events ` +
  `(${seed.reused ? "reused" : "made now"}; raw rows in ${seed.info.seedSeconds.toFixed(0)} s)`);
for (const r of seed.info.rebuild) {
  console.log(`rebuild_engagement_analytics (tenant ${r.tenantId.slice(0, 8)}): ${r.seconds.toFixed(1)} s, compaction after it ${r.compactSeconds.toFixed(1)} s; ` +
    `backend peak RSS ${r.peakRssMb.toFixed(0)} MiB (private ${r.peakAnonMb.toFixed(0)} MiB), temp files ${r.tempMb.toFixed(0)} MiB` +
    (r.workaround ? `; needed ${r.workaround}` : ""));
}

// --- 2. compaction, as the worker's cron runs it (the owner), then what the rollups hold
const compactSeconds = await timed(() => admin.begin(async (tx) => {
  await tx.unsafe(`set local role "${TEST_ROLES.owner}"`);
  return tx`select compact_engagement_analytics() as n`;
}));
console.log(`compact_engagement_analytics(): ${compactSeconds.seconds.toFixed(2)} s, ${Number(compactSeconds.value[0]!.n)} delta rows folded`);
await printRollupCounts();

// --- 3. the server in its own process, an analyst's key, the cases
const appUrl = Object.assign(new URL(seed.adminUrl), { username: TEST_ROLES.login, password: config.loginPassword }).toString();
const keyDb = createPrisma(appUrl, 1);
const caller = { tenantId: tenant!.id, actor: { kind: "user" as const, id: tenant!.ownerUserId }, permissions: ROLE_PERMISSIONS.owner, requestId: "bench" };
const { secret } = await withTenantTransaction(keyDb, { dbRole: TEST_ROLES.member, tenantId: tenant!.id, userId: tenant!.ownerUserId }, (db) =>
  createApiKey(db, caller, { name: "analytics bench", scopes: ["analytics"] }),
);
await keyDb.prisma.$disconnect();
await keyDb.pool.end();

// Set before the server opens its connections; reset in the finally below.
if (jitOff) await admin.unsafe(`alter database "${database}" set jit = off`);
const child = fork(new URL("./server-process.ts", import.meta.url).pathname, [], {
  execArgv: ["--import", "tsx"],
  env: { ...process.env, DATABASE_URL: seed.adminUrl, NODE_ENV: "production", DATABASE_POOL_SIZE: "10", LAUREL_RUN_WORKER: "false", LAUREL_TRUST_PROXY: "127.0.0.1" },
});
try {
  const url = await new Promise<string>((resolve) => child.on("message", (m: { url?: string }) => m.url && resolve(m.url)));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const target = new URL(`${url}/graphql`);
  const post = (query: string, variables: object) =>
    new Promise<string>((resolve, reject) => {
      const body = JSON.stringify({ query, variables });
      const req = http.request(
        { host: target.hostname, port: target.port, path: target.pathname, method: "POST", agent,
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), authorization: `Bearer ${secret}`, "x-forwarded-proto": "https" } }, // as from a TLS-terminating proxy (lib/transit.ts)
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve(`${res.statusCode} ${Buffer.concat(chunks).toString("utf8")}`));
        },
      );
      req.on("error", reject);
      req.end(body);
    });

  // Filters: tenant 1's most issued template, and its largest bulk job of the last 30 days.
  const anchor = new Date(Math.floor(Date.parse(seed.info.seededAt) / 900_000) * 900_000);
  const month = { from: new Date(anchor.getTime() - 30 * 86_400_000).toISOString(), to: anchor.toISOString() };
  const year = { from: new Date(anchor.getTime() - 365 * 86_400_000).toISOString(), to: anchor.toISOString() };
  const [top] = await admin`select template_id, count(*)::int as n from credentials where tenant_id = ${tenant!.id} group by 1 order by 2 desc limit 1`;
  const [job] = await admin`select id, total_rows from bulk_jobs where tenant_id = ${tenant!.id} and created_at >= ${month.from}::timestamptz
                             order by total_rows desc limit 1`;
  const templateFilter = { templateIds: [encodeGlobalID("Template", top!.template_id as string)] };
  const bulkFilter = { bulkJobId: encodeGlobalID("BulkJob", job!.id as string) };
  console.log(`\nfilters: template ${top!.template_id} (${(top!.n as number).toLocaleString()} credentials), bulk job ${job!.id} (${job!.total_rows} credentials)`);

  const cases = buildCases({ month, year, templateFilter, bulkFilter, zone: tenant!.timeZone });
  const results: { c: Case; p50: number; p99: number; error: string | null }[] = [];
  const serverCpuBefore = await cpuSeconds(child.pid!);
  const loadBefore = os.loadavg()[0]!;
  for (const c of cases.filter((c) => !ONLY || ONLY.test(`${c.op} ${c.range} ${c.filter}`))) {
    let error: string | null = null;
    const check = (answer: string) => {
      if (!answer.startsWith("200 ") || answer.includes('"errors"') || !answer.includes(`"__typename":"${c.typename}"`)) error ??= answer.slice(0, 300);
    };
    for (let i = 0; i < WARMUP; i++) check(await post(c.query, c.variables));
    const times: number[] = [];
    for (let i = 0; i < CALLS; i++) {
      const t0 = performance.now();
      const answer = await post(c.query, c.variables);
      times.push(performance.now() - t0);
      check(answer);
    }
    times.sort((a, b) => a - b);
    const rank = (p: number) => times[Math.max(0, Math.ceil((p / 100) * times.length) - 1)]!;
    results.push({ c, p50: rank(50), p99: rank(99), error });
    process.stderr.write(".");
  }
  const serverCpu = (await cpuSeconds(child.pid!)) - serverCpuBefore;
  process.stderr.write("\n");
  printTable(results);
  console.log(`(${CALLS} sequential calls per case after ${WARMUP} warm-ups; server process CPU ${serverCpu.toFixed(1)} s in all; ` +
    `JIT ${jitOff ? "off for this database" : "as the server is configured"}; 1-minute load average ${loadBefore.toFixed(1)} before, ` +
    `${os.loadavg()[0]!.toFixed(1)} after, on ${os.cpus().length} cores)`);

  // --- 4. ingestion with the aggregates in place, then the compaction of its deltas
  if (process.env.BENCH_INGEST !== "0") {
    await benchIngestSeeded({
      serverUrl: url, serverPid: child.pid!, adminUrl: seed.adminUrl, tenantId: tenant!.id,
      settings: mailSettings(config), seconds: Number(process.env.BENCH_SECONDS ?? 10),
    });
    const deltas = await admin`select (select count(*) from analytics_event_rollups where not compacted)::int as e,
                                      (select count(*) from analytics_cohort_rollups where not compacted)::int as c,
                                      (select count(*) from analytics_latency_rollups where not compacted)::int as l`;
    const after = await timed(() => admin.begin(async (tx) => {
      await tx.unsafe(`set local role "${TEST_ROLES.owner}"`);
      return tx`select compact_engagement_analytics() as n`;
    }));
    console.log(`compaction after ingestion: ${after.seconds.toFixed(2)} s, ${Number(after.value[0]!.n)} delta rows folded ` +
      `(event ${deltas[0]!.e}, cohort ${deltas[0]!.c}, latency ${deltas[0]!.l})`);
  }
  const peak = await new Promise<number>((resolve) => {
    child.on("message", (m: { peakRssMb?: number }) => m.peakRssMb && resolve(m.peakRssMb));
    child.kill("SIGTERM");
  });
  console.log(`server peak RSS: ${peak.toFixed(0)} MB\n`);
} finally {
  if (child.exitCode === null) child.kill("SIGKILL");
  if (jitOff) await admin.unsafe(`alter database "${database}" reset jit`);
  await admin.end();
}

// ---------------------------------------------------------------------------------------------------

interface Case {
  op: string;
  range: string;
  filter: string;
  typename: string;
  query: string;
  variables: object;
}

function buildCases(o: { month: object; year: object; templateFilter: object; bulkFilter: object; zone: string }): Case[] {
  const cases: Case[] = [];
  const ranges = [["1 month", o.month], ["12 months", o.year]] as const;
  const filters = [["none", undefined], ["template", o.templateFilter], ["bulk job", o.bulkFilter]] as const;
  const add = (op: string, typename: string, doc: { toString(): string }, extra: object, opts: { bulk?: boolean; only?: string; hourLimit?: boolean } = {}) => {
    for (const [range, r] of ranges) {
      if (opts.hourLimit && range === "12 months") continue; // HOUR: at most 1,000 buckets
      for (const [filter, f] of filters) {
        if (filter === "bulk job" && !opts.bulk) continue;
        if (opts.only && filter !== "none" && filter !== opts.only) continue;
        cases.push({ op, range, filter, typename, query: doc.toString(), variables: { range: r, ...(f ? { filter: f } : {}), ...extra } });
      }
    }
  };
  add("engagementFunnel", "EngagementFunnel", EngagementFunnelDocument, {}, { bulk: true });
  add("engagementFunnel groupBy TEMPLATE", "EngagementFunnel", EngagementFunnelDocument, { groupBy: "TEMPLATE" }, { only: "none" });
  for (const zone of [o.zone, "Asia/Kolkata"]) {
    const tz = zone === o.zone ? {} : { timeZone: zone };
    for (const interval of ["DAY", "MONTH", "HOUR"]) {
      add(`engagementTimeSeries ${interval} ${zone}`, "EngagementTimeSeries", EngagementTimeSeriesDocument, { interval, ...tz },
        { bulk: true, hourLimit: interval === "HOUR" });
    }
  }
  for (const by of ["TEMPLATE", "BULK_JOB", "CHANNEL", "NETWORK", "DEVICE_CLASS", "FORMAT", "LOCALE"]) {
    // A bulk-job filter is accepted only when breaking down by bulk job.
    add(`engagementBreakdown ${by}`, "EngagementBreakdown", EngagementBreakdownDocument, { by }, { bulk: by === "BULK_JOB" });
  }
  add("topTemplates VIEWS/CREDENTIALS", "TopTemplates", TopTemplatesDocument, { by: "VIEWS", measure: "CREDENTIALS" }, { bulk: true });
  add("engagementLatency", "EngagementLatency", EngagementLatencyDocument, {});
  add("deliveryHealth", "DeliveryHealth", DeliveryHealthDocument, {});
  add("deliveryHealth DAY", "DeliveryHealth", DeliveryHealthDocument, { interval: "DAY" });
  return cases;
}

function printTable(results: { c: Case; p50: number; p99: number; error: string | null }[]) {
  console.log(`\nAnalytics operations over HTTP (analyst API key; targets p50 <= ${P50_TARGET} ms, p99 <= ${P99_TARGET} ms)\n`);
  const head = `${"operation".padEnd(46)} ${"range".padEnd(9)} ${"filter".padEnd(8)} ${"p50 ms".padStart(8)} ${"p99 ms".padStart(8)} ${"p50/50".padStart(7)} ${"p99/150".padStart(7)}`;
  console.log(head);
  console.log("-".repeat(head.length));
  for (const { c, p50, p99, error } of results) {
    const r50 = p50 / P50_TARGET;
    const r99 = p99 / P99_TARGET;
    const flag = error ? "  ERROR" : r50 > 1 || r99 > 1 ? "  over" : "";
    console.log(`${c.op.padEnd(46)} ${c.range.padEnd(9)} ${c.filter.padEnd(8)} ${p50.toFixed(1).padStart(8)} ${p99.toFixed(1).padStart(8)} ${r50.toFixed(2).padStart(7)} ${r99.toFixed(2).padStart(7)}${flag}`);
  }
  for (const { c, error } of results.filter((r) => r.error)) console.log(`ERROR ${c.op} ${c.range} ${c.filter}: ${error}`);
  const over = results.filter((r) => r.p50 > P50_TARGET || r.p99 > P99_TARGET).length;
  console.log(`\n${results.length} cases, ${over} over a target`);
}

async function printRollupCounts() {
  const rows = await admin<{ t: string; tenant: string; grain: string; n: number; deltas: number }[]>`
    select x.t, left(x.tenant_id::text, 8) as tenant, x.grain, count(*)::int as n, (count(*) filter (where not x.compacted))::int as deltas
      from (select 'event' as t, tenant_id, grain, compacted from analytics_event_rollups
            union all select 'cohort', tenant_id, grain, compacted from analytics_cohort_rollups
            union all select 'latency', tenant_id, grain, compacted from analytics_latency_rollups
            union all select 'delivery', tenant_id, grain, compacted from analytics_delivery_rollups) x
     group by 1, 2, 3 order by 1, 2, 3`;
  const sizes = await admin<{ t: string; mb: number }[]>`
    select c.relname as t, (pg_total_relation_size(c.oid) / 1048576)::int as mb from pg_class c
     where c.relname in ('analytics_event_rollups', 'analytics_cohort_rollups', 'analytics_latency_rollups', 'analytics_delivery_rollups',
                         'analytics_credentials', 'analytics_first_touches') order by 1`;
  console.log("\nrollup rows (per tenant, by grain: s 15-minute slot, d day, m month; deltas = not yet compacted):");
  const byTable = new Map<string, string[]>();
  for (const r of rows) {
    const key = `${r.t.padEnd(8)} tenant ${r.tenant}`;
    byTable.set(key, [...(byTable.get(key) ?? []), `${r.grain} ${r.n.toLocaleString()}${r.deltas ? ` (${r.deltas} deltas)` : ""}`]);
  }
  for (const [key, parts] of byTable) console.log(`  ${key}: ${parts.join(", ")}`);
  console.log(`  sizes (both tenants, with indexes): ${sizes.map((s) => `${s.t} ${s.mb.toLocaleString()} MB`).join(", ")}`);
}

async function timed<T>(work: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const t0 = performance.now();
  const value = await work();
  return { seconds: (performance.now() - t0) / 1000, value };
}
