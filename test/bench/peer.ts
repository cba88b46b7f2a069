// `npm run bench:peer` (issue 11, point 1): Laurel beside its fair peer, PostGraphile v5, on Laurel's own
// migrated database, roles and row-level security. Two tenants of 10,000 recipients and 50,000 signed
// credentials each (20 issued through Laurel for real, multiplied in SQL). Both servers run in their own
// process, in production mode, as the same login role with the same pool size; they must return the same
// rows before anything is measured. Then alternating rounds of (a) one credential by id, (b) a page of 50
// with recipient and template, (c) ACTIVE first 20 with totalCount, and (d) issuance (Laurel only), each
// reporting req/s, p50, p99 and the server's CPU per request (and its PostgreSQL backends'). Prints
// figures and ratios; asserts nothing.
//
// Its own database, laurel_bench_peer (dropped, created and migrated each run), with the test roles.
// Environment: BENCH_DATABASE_URL (superuser URL of the cluster), BENCH_SECONDS (10 per run), BENCH_ROUNDS
// (3), BENCH_CONCURRENCY (16), BENCH_WARMUP (3 s per server and workload), BENCH_POOL_SIZE (16),
// BENCH_KEEP=1 (keep the database), BENCH_REUSE=1 (reuse a kept database instead of seeding; a diagnosis aid), BENCH_ONLY=a,b (only these workloads),
// BENCH_PROFILE_DIR=<dir> (Laurel writes a CPU profile there when it stops, PostGraphile in <dir>/peer).
import { execFileSync } from "node:child_process";
import os from "node:os";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { migrate } from "../../src/db/migrate.js";
import { adminUrlFor, loginUrlFor, TEST_ENV, TEST_LOGIN_PASSWORD, TEST_ROLES } from "../helpers/env.js";
import { measure, median, type Measured } from "./peer/load.js";
import { issueThroughLaurel, multiply, prepareTenants } from "./peer/seed.js";
import { startServer, type RunningServer } from "./peer/servers.js";
import { verify, wallCheck, workloads } from "./peer/workloads.js";

const DB = "laurel_bench_peer";
const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const SECONDS = env("BENCH_SECONDS", 10);
const ROUNDS = env("BENCH_ROUNDS", 3);
const CONCURRENCY = env("BENCH_CONCURRENCY", 16);
const WARMUP = env("BENCH_WARMUP", 3);
const POOL = env("BENCH_POOL_SIZE", 16);
const RECIPIENTS = 10_000;
const CREDENTIALS = 50_000;
const ISSUED_FOR_REAL = 20;
const BY_ID_SAMPLE = 100;
const serverUrl = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const adminUrl = adminUrlFor(serverUrl, DB);
const loginUrl = loginUrlFor(serverUrl, DB);
const repo = fileURLToPath(new URL("../../", import.meta.url));
// The children start from this environment without the load generator's own loader (tsx) options.
const { NODE_OPTIONS: _loader, ...baseEnv } = process.env;

const root = postgres(adminUrlFor(serverUrl, "postgres"), { max: 1, onnotice: () => {} });
const reuse = process.env.BENCH_REUSE === "1" && (await root`select 1 from pg_database where datname = ${DB}`).length > 0;
const servers: RunningServer[] = [];
const admin = postgres(adminUrl, { max: 1, onnotice: () => {}, connection: { application_name: "bench-peer" } });
try {
  if (!reuse) {
    await root.unsafe(`drop database if exists ${DB} with (force)`);
    await root.unsafe(`create database ${DB}`);
    await migrate({ adminUrl, roles: TEST_ROLES, loginPassword: TEST_LOGIN_PASSWORD });
  }
  let t0 = performance.now();
  execFileSync("npm", ["run", "build"], { cwd: repo, stdio: ["ignore", "ignore", "inherit"] });
  console.log(`npm run build: ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  t0 = performance.now();
  const tenants = await prepareTenants(adminUrl, loginUrl, TEST_ROLES, !reuse);
  const laurel = await startServer(
    "Laurel",
    // BENCH_PROFILE_DIR: Laurel writes a V8 CPU profile there when it stops (a diagnosis aid; it slows Laurel a little).
    [...(process.env.BENCH_PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : []), "dist/main.js"],
    {
      ...baseEnv,
      ...TEST_ENV,
      DATABASE_URL: adminUrl,
      NODE_ENV: "production",
      PUBLIC_URL: "https://credentials.bench.example",
      // The load generator stands in for a proxy that terminated TLS (workloads.ts sends X-Forwarded-Proto).
      LAUREL_TRUST_PROXY: "127.0.0.1",
      DATABASE_POOL_SIZE: String(POOL),
      // Background work (email rendering, reminders) would be charged to the requests measured.
      LAUREL_RUN_WORKER: "false",
      HOST: "127.0.0.1",
      PORT: "0",
    },
    /Laurel is listening on (http:\/\/[^\s]+)/,
    "laurel",
    repo,
  );
  servers.push(laurel);
  if (!reuse) {
    for (const tenant of tenants) await issueThroughLaurel(`${laurel.url}/graphql`, tenant, ISSUED_FOR_REAL);
    for (const tenant of tenants) await multiply(adminUrl, tenant, RECIPIENTS, CREDENTIALS);
    await admin.unsafe("vacuum analyze");
  }
  const counts = await admin<{ slug: string; recipients: number; credentials: number; active: number }[]>`
    select t.slug, (select count(*)::int from recipients r where r.tenant_id = t.id) as recipients,
           (select count(*)::int from credentials c where c.tenant_id = t.id) as credentials,
           (select count(*)::int from credentials c where c.tenant_id = t.id and c.status = 'ACTIVE') as active
      from tenants t order by t.slug`;
  console.log(
    `${reuse ? "reused the kept database (BENCH_REUSE=1)" : `seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s (keys, templates, ${ISSUED_FOR_REAL} credentials per tenant issued through Laurel, the rest multiplied in SQL, vacuum analyze)`}: ` +
      counts.map((c) => `${c.slug} ${c.recipients} recipients, ${c.credentials} credentials (${c.active} ACTIVE)`).join("; "),
  );

  const peer = await startServer(
    "PostGraphile",
    // BENCH_PROFILE_DIR: the peer's profile goes to its peer/ subfolder, to be read beside Laurel's.
    [...(process.env.BENCH_PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}/peer`] : []), "--disable-warning=ExperimentalWarning", "test/bench/peer/postgraphile-server.ts"],
    {
      ...baseEnv,
      NODE_ENV: "production",
      GRAPHILE_ENV: "production",
      PEER_DATABASE_URL: loginUrl,
      PEER_MEMBER_ROLE: TEST_ROLES.member,
      PEER_POOL_SIZE: String(POOL),
      PORT: "0",
    },
    /PostGraphile is listening on (http:\/\/[^\s]+)/,
    "postgraphile",
    repo,
  );
  servers.push(peer);

  const [reader, issuer] = tenants as [(typeof tenants)[0], (typeof tenants)[0]];
  const ids = (await admin<{ id: string }[]>`select id from credentials where tenant_id = ${reader.id} order by id limit ${BY_ID_SAMPLE}`).map((r) => r.id);
  // BENCH_ONLY=a,b: measure only these workloads (a diagnosis aid; the note's figures run all four).
  const only = process.env.BENCH_ONLY?.split(",").map((k) => k.trim());
  const list = workloads(laurel.url, peer.url, reader, issuer, ids, Date.now().toString(36)).filter((w) => !only || only.includes(w.key));
  const [pgVersion] = await admin<{ v: string }[]>`select current_setting('server_version') as v`;
  console.log(
    `\nLaurel (node dist/main.js, NODE_ENV=production, DATABASE_POOL_SIZE=${POOL}: its Prisma pool and its postgres.js pool hold up to ${POOL} each) ` +
      `vs PostGraphile 5.1.5 (amber preset, grafserv node adaptor, NODE_ENV=production, one pg pool of ${POOL}).\n` +
      `Both connect as ${TEST_ROLES.login} and set role ${TEST_ROLES.member}, app.tenant_id, app.user_id, statement_timeout and jit per transaction; ` +
      `RLS is the tenant wall for both.\n` +
      `Laurel authenticates every request (a real API key, Authorization: Bearer lrk_...); the peer authenticates NOBODY: it takes the tenant from an x-tenant-id header.\n` +
      `Reads ask ${reader.slug}; issuance writes into ${issuer.slug}. ${os.cpus().length} cores, PostgreSQL ${pgVersion!.v} on this machine, ` +
      `node ${process.version}; ${CONCURRENCY} keep-alive connections, ${WARMUP} s warm-up per server and workload, ${ROUNDS} rounds of ${SECONDS} s per server and workload, alternating.\n`,
  );
  for (const line of await verify(list, ids.length)) console.log(line);
  console.log(await wallCheck(laurel.url, peer.url, reader, issuer, ids[0]!));

  for (const w of list) {
    await measure(laurel, w.laurel, admin, DB, { concurrency: CONCURRENCY, seconds: WARMUP });
    if (w.peer) await measure(peer, w.peer, admin, DB, { concurrency: CONCURRENCY, seconds: WARMUP });
  }
  const results = new Map(list.map((w) => [w.key, { laurel: [] as Measured[], peer: [] as Measured[] }]));
  console.log(
    "\nper run: req/s, p50 and p99 ms, server CPU-ms/req, its PostgreSQL backends' CPU-ms/req, the load generator's CPU-ms/req, " +
      "and the cores everything else on the machine kept busy meanwhile",
  );
  for (let round = 1; round <= ROUNDS; round++) {
    for (const w of list) {
      const runs: [string, RunningServer, NonNullable<typeof w.peer>, Measured[]][] = [["Laurel", laurel, w.laurel, results.get(w.key)!.laurel]];
      if (w.peer) runs.push(["PostGraphile", peer, w.peer, results.get(w.key)!.peer]);
      for (const [name, server, side, into] of runs) {
        const m = await measure(server, side, admin, DB, { concurrency: CONCURRENCY, seconds: SECONDS });
        into.push(m);
        console.log(
          `  round ${round} (${w.key}) ${name.padEnd(12)} ${fmt(m.rps, 0, 7)} req/s  p50 ${fmt(m.p50, 2, 7)}  p99 ${fmt(m.p99, 2, 7)}  ` +
            `cpu ${fmt(m.cpuMs, 3, 6)}  pg ${fmt(m.pgCpuMs, 3, 6)}  client ${fmt(m.clientCpuMs, 3, 6)}  others ${fmt(m.otherCores, 2, 4)} cores  ` +
            `(${m.requests} requests, ${m.errors} errors)` +
            (m.firstError ? `\n      first error: ${m.firstError}` : ""),
        );
      }
    }
  }

  console.log(`\nmedians over ${ROUNDS} rounds (ms; CPU = CPU-ms per request)`);
  const header = `  ${"".padEnd(22)}${"req/s".padStart(9)}${"p50".padStart(9)}${"p99".padStart(9)}${"server CPU".padStart(12)}${"PG CPU".padStart(9)}${"errors".padStart(9)}`;
  for (const w of list) {
    const r = results.get(w.key)!;
    console.log(`\n${w.title}${w.wrong ? "   *** WRONG: THE TWO SERVERS' ANSWERS DIFFER, SEE ABOVE ***" : ""}`);
    console.log(header);
    const row = (label: string, ms: Measured[]) => {
      const med = summarise(ms);
      console.log(`  ${label.padEnd(22)}${fmt(med.rps, 0, 9)}${fmt(med.p50, 2, 9)}${fmt(med.p99, 2, 9)}${fmt(med.cpuMs, 3, 12)}${fmt(med.pgCpuMs, 3, 9)}${String(med.errors).padStart(9)}`);
      return med;
    };
    const l = row("Laurel", r.laurel);
    if (!w.peer) continue;
    const p = row("PostGraphile", r.peer);
    const x = (a: number, b: number, width: number) => `${(a / b).toFixed(2)}x`.padStart(width);
    console.log(`  ${"Laurel ÷ PostGraphile".padEnd(22)}${x(l.rps, p.rps, 9)}${x(l.p50, p.p50, 9)}${x(l.p99, p.p99, 9)}${x(l.cpuMs, p.cpuMs, 12)}${x(l.pgCpuMs, p.pgCpuMs, 9)}`);
  }
  console.log("\n(the peer authenticates nobody; Laurel checks an API key on every request)");
} finally {
  for (const server of servers.reverse()) await server.stop();
  await admin.end();
  if (process.env.BENCH_KEEP !== "1") await root.unsafe(`drop database if exists ${DB} with (force)`);
  await root.end();
}

function summarise(runs: Measured[]) {
  return {
    rps: median(runs.map((m) => m.rps)),
    p50: median(runs.map((m) => m.p50)),
    p99: median(runs.map((m) => m.p99)),
    cpuMs: median(runs.map((m) => m.cpuMs)),
    pgCpuMs: median(runs.map((m) => m.pgCpuMs)),
    errors: runs.reduce((n, m) => n + m.errors, 0),
  };
}

function fmt(value: number, digits: number, width: number): string {
  return value.toFixed(digits).padStart(width);
}
