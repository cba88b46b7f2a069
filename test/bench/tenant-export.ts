// `npm run bench:tenant-export` (issue 10, point 2): a tenant of 1,000,000 rows (mostly engagement events,
// then credentials with signed-document-sized JSON and their recipients), exported by the real
// export_tenant task (src/modules/tenant-export/task.ts) in this process. Prints rows/s (target >=
// 100,000), seconds, ZIP bytes, and this process's RSS sampled every 100 ms (peak, and max - min once
// the export is under way: flat memory). Asserts nothing.
//
// Its own database, laurel_bench_tenant_export, created (dropped first) and migrated each run, seeded
// with generate_series as the superuser (session_replication_role = replica: no triggers, so the seed
// takes seconds, and no analytics rows, which the export leaves out anyway).
//
// Environment: BENCH_DATABASE_URL (superuser URL of the cluster), BENCH_ROWS (1000000), BENCH_BATCH
// (rows per chunk and checkpoint, 50000), BENCH_LEVEL (deflate level, 1), BENCH_KEEP=1 (keep the database),
// BENCH_REUSE=1 (export the kept database again instead of re-seeding; a diagnosis aid).
import { rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import { loadConfig } from "../../src/config.js";
import { openDatabase } from "../../src/db/database.js";
import { migrate } from "../../src/db/migrate.js";
import { withTenantTransaction } from "../../src/db/tenant-transaction.js";
import { ROLE_PERMISSIONS } from "../../src/modules/auth/permissions.js";
import { createTenantExportTask, exportPaths } from "../../src/modules/tenant-export/task.js";
import { TEST_ENV, TEST_LOGIN_PASSWORD, TEST_ROLES } from "../helpers/env.js";

const DB = "laurel_bench_tenant_export";
const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const serverUrl = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const urlFor = (db: string) => Object.assign(new URL(serverUrl), { pathname: `/${db}` }).toString();

Object.assign(process.env, TEST_ENV);
const root = postgres(urlFor("postgres"), { max: 1, onnotice: () => {} });
const reuse = process.env.BENCH_REUSE === "1" && (await root`select 1 from pg_database where datname = ${DB}`).length > 0;
if (!reuse) await root.unsafe(`drop database if exists ${DB} with (force)`);
if (!reuse) await root.unsafe(`create database ${DB}`);
if (!reuse) await migrate({ adminUrl: urlFor(DB), roles: TEST_ROLES, loginPassword: TEST_LOGIN_PASSWORD });

// 15% recipients, 15% credentials, the rest engagement events.
const people = Math.floor(ROWS * 0.15);
const events = ROWS - 2 * people;
const admin = postgres(urlFor(DB), { max: 1, onnotice: () => {} });
const seedStart = performance.now();
const tenantId = "0193a000-0000-7000-8000-000000000001";
if (!reuse) await admin.begin(async (tx) => {
  await tx`set local session_replication_role = replica`;
  await tx`insert into tenants (id, slug, name) values (${tenantId}, 'bench-export', 'Bench Export University')`;
  await tx`insert into templates (tenant_id, id, kind, status) values (${tenantId}, ${tenantId}, 'BADGE', 'ACTIVE')`;
  await tx`insert into template_versions (tenant_id, template_id, version, name, description, criteria_narrative) values (${tenantId}, ${tenantId}, 1, 'Bench badge', 'A badge for the benchmark.', 'Take part.')`;
  await tx`insert into status_lists (tenant_id, id, purpose, capacity) values (${tenantId}, ${tenantId}, 'revocation', 1048576)`;
  await tx.unsafe(`
    insert into recipients (tenant_id, id, email, name, attributes)
    select '${tenantId}', uuid_v7(), 'person' || g || '@bench.example', 'Person Number ' || g, jsonb_build_object('cohort', g % 50)
      from generate_series(1, ${people}) g`);
  // A document the size of a real signed OB 3.0 credential (~1.7 kB of JSON).
  await tx.unsafe(`
    insert into credentials (tenant_id, id, template_id, template_version, recipient_id, status_list_id, status_index,
                             suspension_list_id, suspension_index, valid_from, document)
    select '${tenantId}', uuid_v7(), '${tenantId}', 1, r.id, '${tenantId}', r.n, '${tenantId}', r.n, now(),
           json_build_object('@context', json_build_array('https://www.w3.org/ns/credentials/v2', 'https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json'),
             'id', 'https://bench.example/credentials/' || r.id, 'type', json_build_array('VerifiableCredential', 'OpenBadgeCredential'),
             'issuer', json_build_object('id', 'did:web:bench.example:issuers:${tenantId}', 'type', json_build_array('Profile'), 'name', 'Bench Export University'),
             'validFrom', now(), 'name', 'Bench badge',
             'credentialSubject', json_build_object('type', json_build_array('AchievementSubject'),
               'identifier', json_build_array(json_build_object('type', 'IdentityObject', 'hashed', true, 'identityType', 'emailAddress',
                 'identityHash', 'sha256$' || encode(sha256(r.id::text::bytea), 'hex'), 'salt', md5(r.id::text))),
               'achievement', json_build_object('id', 'https://bench.example/achievements/${tenantId}', 'type', json_build_array('Achievement'),
                 'name', 'Bench badge', 'description', 'A badge for the benchmark.', 'criteria', json_build_object('narrative', 'Take part in the benchmark.'))),
             'credentialStatus', json_build_object('id', 'https://bench.example/status/${tenantId}#' || r.n, 'type', 'BitstringStatusListEntry',
               'statusPurpose', 'revocation', 'statusListIndex', r.n::text, 'statusListCredential', 'https://bench.example/status/${tenantId}'),
             'proof', json_build_array(json_build_object('type', 'DataIntegrityProof', 'cryptosuite', 'eddsa-rdfc-2022', 'created', now(),
               'verificationMethod', 'did:web:bench.example:issuers:${tenantId}#key-1', 'proofPurpose', 'assertionMethod',
               'proofValue', 'z' || repeat(md5(r.id::text), 3))))
      from (select id, (row_number() over (order by id))::int as n from recipients where tenant_id = '${tenantId}') r`);
  await tx.unsafe(`
    insert into engagement_events (tenant_id, id, occurred_at, type, template_id, credential_id, channel, ua_class, ip_hash)
    select '${tenantId}', uuid_v7(), now() - make_interval(secs => g % 2000000), (array['page_viewed','shared','link_clicked','email_opened']::engagement_type[])[1 + g % 4],
           '${tenantId}', null, (array['web','email','linkedin'])[1 + g % 3], 'desktop', md5(g::text)
      from generate_series(1, ${events}) g`);
});
if (!reuse) await admin.unsafe("vacuum analyze");
if (reuse) await admin`delete from tenant_exports where tenant_id = ${tenantId}`;
const [counted] = await admin<{ total: string }[]>`
  select (select count(*) from recipients) + (select count(*) from credentials) + (select count(*) from engagement_events)
       + (select count(*) from templates) + (select count(*) from template_versions) + (select count(*) from status_lists) + 1 as total`;
const total = Number(counted!.total);
console.log(`seeded ${total.toLocaleString("en")} rows in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`);

const exportDir = path.join(os.tmpdir(), `laurel-bench-exports-${process.pid}`);
const config = { ...loadConfig({ ...process.env, DATABASE_URL: urlFor(DB), NODE_ENV: "test" }), exportDir };
const database = await openDatabase(config);
const app = { config, database };
const claims = { dbRole: config.roles.member, tenantId, userId: null };
const created = await withTenantTransaction(database, claims, (db) => db.tenantExport.create({ data: { tenantId, formatVersion: "1.0" } }));

const samples: { t: number; rss: number }[] = [];
const cpu0 = process.cpuUsage();
const load0 = os.loadavg()[0]!;
const t0 = performance.now();
const sampler = setInterval(() => samples.push({ t: performance.now() - t0, rss: process.memoryUsage().rss }), 100);
// When the last batch was written: what follows is the ZIP (and its deflate) alone.
let lastBatchAt = 0;
const perTable = new Map<string, number>();
let tableStart = 0;
const task = createTenantExportTask({
  batchSize: Number(process.env.BENCH_BATCH ?? 50_000),
  compressionLevel: Number(process.env.BENCH_LEVEL ?? 1),
  hooks: {
    beforeCheckpoint: ({ table }) => {
      const now = performance.now();
      if (!perTable.has(table)) tableStart = lastBatchAt || t0;
      perTable.set(table, now - tableStart);
      lastBatchAt = now;
    },
  },
});
await task(app, {
  tenantId,
  payload: { exportId: created.id },
  caller: { tenantId, actor: { kind: "system", id: null }, permissions: ROLE_PERMISSIONS.owner, requestId: "bench" },
  inTenant: (work) => withTenantTransaction(database, claims, work, { timeout: 600_000 }),
  attempt: 1,
  maxAttempts: 1,
  isFinalAttempt: true,
  jobId: "bench",
});
const seconds = (performance.now() - t0) / 1000;
clearInterval(sampler);
const cpu = process.cpuUsage(cpu0);
const done = await withTenantTransaction(database, claims, (db) => db.tenantExport.findUniqueOrThrow({ where: { tenantId_id: { tenantId, id: created.id } } }));
const zipBytes = (await stat(exportPaths(exportDir, tenantId, created.id).zip)).size;
const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
const rss = samples.map((s) => s.rss);
// "Under way": after the first second (module loading and the first batches settle the heap).
const steady = samples.filter((s) => s.t > 1000).map((s) => s.rss);
console.log(`state ${done.state}, ${done.tablesDone}/${done.tablesTotal} tables, ${Number(done.rowsWritten).toLocaleString("en")} rows`);
console.log(`export: ${seconds.toFixed(2)} s, ${Math.round(Number(done.rowsWritten) / seconds).toLocaleString("en")} rows/s (target >= 100,000)`);
console.log(`tables: ${((lastBatchAt - t0) / 1000).toFixed(2)} s (slowest: ${[...perTable].sort((x, y) => y[1] - x[1]).slice(0, 3).map(([n, ms]) => `${n} ${(ms / 1000).toFixed(2)} s`).join(", ")}); zip after the last batch: ${((performance.now() - t0 - (lastBatchAt - t0)) / 1000 - 0).toFixed(2)} s`);
console.log(`this process's CPU: ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s over ${seconds.toFixed(2)} s; machine: ${os.cpus().length} cores, load average ${load0.toFixed(2)} before and ${os.loadavg()[0]!.toFixed(2)} after`);
console.log(`zip: ${zipBytes.toLocaleString("en")} bytes (${mb(zipBytes)})`);
console.log(`rss: peak ${mb(Math.max(...rss))}; after the first second min ${mb(Math.min(...steady))}, max ${mb(Math.max(...steady))}, max - min ${mb(Math.max(...steady) - Math.min(...steady))}`);
const every = Math.max(1, Math.floor(samples.length / 20));
console.log(`rss over time (s: MB): ${samples.filter((_, i) => i % every === 0).map((s) => `${(s.t / 1000).toFixed(1)}: ${(s.rss / 1024 / 1024).toFixed(0)}`).join(", ")}`);

await database.close();
await admin.end();
await rm(exportDir, { recursive: true, force: true });
if (process.env.BENCH_KEEP !== "1") await root.unsafe(`drop database if exists ${DB} with (force)`);
await root.end();
