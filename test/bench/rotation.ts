// `npm run bench:rotation`: the cost of one data-key rotation over a tenant's recipients (issue 13).
// Seeds BENCH_ROWS (default 1,000,000) sealed recipients into a database of its own, generated and
// sealed in this process and inserted by the superuser in batches, then runs one rotation with the
// real code (vault/rotation.ts: 1,000 rows a tenant transaction, keyset order) and prints rows/s and
// memory: RSS sampled every 50 ms during the rotation (peak, and above the start), and the process's
// maxRSS. Not part of `npm test`: it prints figures, it asserts nothing.
import { randomBytes, randomUUID } from "node:crypto";
import postgres from "postgres";
import { loadConfig } from "../../src/config.js";
import { openDatabase } from "../../src/db/database.js";
import { withTenantTransaction } from "../../src/db/tenant-transaction.js";
import { sealRecipient } from "../../src/modules/recipients/personal.js";
import { tenantKeys } from "../../src/modules/vault/vault.js";
import { runRotation, startRotation, ROTATION_BATCH_ROWS } from "../../src/modules/vault/rotation.js";
import { TEST_ENV } from "../helpers/env.js";

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const BATCH = Number(process.env.BENCH_BATCH ?? ROTATION_BATCH_ROWS);
const server = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const dbName = `laurel_bench_rotation_${randomBytes(4).toString("hex")}`;
const adminUrl = Object.assign(new URL(server), { pathname: `/${dbName}` }).toString();
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

Object.assign(process.env, TEST_ENV);
const root = postgres(server, { max: 1, onnotice: () => {} });
await root.unsafe(`create database "${dbName}"`);
try {
  const config = loadConfig({ ...process.env, DATABASE_URL: adminUrl, LAUREL_KEKS: `1:${randomBytes(32).toString("base64")}` });
  const database = await openDatabase(config);
  const admin = postgres(adminUrl, { max: 4, onnotice: () => {} });
  const [seed] = await admin`select user_id, tenant_id from sign_up('rotation@bench.test', 'Bench', 'x', 'Rotation University', 'rotation-university')`;
  const tenantId = seed!.tenant_id as string;
  const claims = { dbRole: config.roles.member, tenantId, userId: null };
  const keys = await withTenantTransaction(database, claims, (db) => tenantKeys(db, tenantId));

  const t0 = performance.now();
  const SEED_BATCH = 5_000;
  for (let start = 0; start < ROWS; start += SEED_BATCH) {
    const n = Math.min(SEED_BATCH, ROWS - start);
    const cols = { id: [] as string[], email: [] as string[], index: [] as string[], name: [] as string[], attributes: [] as string[] };
    for (let i = start; i < start + n; i++) {
      const id = randomUUID();
      const s = sealRecipient(keys, id, { email: `person${i}@rotation.bench.test`, name: `Person Number ${i}`, attributes: { cohort: "2026", row: i } });
      cols.id.push(id);
      cols.email.push(Buffer.from(s.emailSealed).toString("hex"));
      cols.index.push(Buffer.from(s.emailIndex).toString("hex"));
      cols.name.push(Buffer.from(s.nameSealed!).toString("hex"));
      cols.attributes.push(Buffer.from(s.attributesSealed).toString("hex"));
    }
    await admin`insert into recipients (tenant_id, id, key_version, email_sealed, email_index, name_sealed, attributes_sealed)
                select ${tenantId}::uuid, u.id, ${keys.current}, decode(u.e, 'hex'), decode(u.i, 'hex'), decode(u.n, 'hex'), decode(u.a, 'hex')
                  from unnest(${cols.id}::uuid[], ${cols.email}::text[], ${cols.index}::text[], ${cols.name}::text[], ${cols.attributes}::text[]) as u(id, e, i, n, a)`;
  }
  await admin`vacuum analyze recipients`;
  const seeded = (performance.now() - t0) / 1000;
  const [{ size }] = (await admin`select pg_size_pretty(pg_total_relation_size('recipients')) as size`) as unknown as [{ size: string }];
  console.log(`seeded ${ROWS.toLocaleString("en")} sealed recipients in ${seeded.toFixed(1)} s (${Math.round(ROWS / seeded).toLocaleString("en")} rows/s; table ${size})`);

  await withTenantTransaction(database, claims, (db) => startRotation(db, database.vault, tenantId, { reason: "requested", activationDelayMs: 0 }));
  global.gc?.();
  const startRss = process.memoryUsage().rss;
  let peak = startRss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  const r0 = performance.now();
  const cpu0 = process.cpuUsage();
  const result = await runRotation({ sql: database.sql, memberRole: config.roles.member, vault: database.vault }, tenantId, { batchRows: BATCH, graceMs: 0 });
  const seconds = (performance.now() - r0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  const [left] = await admin`select count(*)::int as n from recipients where tenant_id = ${tenantId} and key_version < 2`;
  const [retired] = await admin`select octet_length(wrapped) as bytes, retired_at is not null as retired from tenant_data_keys where tenant_id = ${tenantId} and purpose = 'data' and version = 1`;
  console.log(`rotation v1 -> v2 (${result.state}): ${ROWS.toLocaleString("en")} rows in ${seconds.toFixed(1)} s = ${Math.round(ROWS / seconds).toLocaleString("en")} rows/s, batches of ${BATCH}`);
  console.log(`  Node CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s (${((cpu.user + cpu.system) / 1e3 / ROWS * 1000).toFixed(1)} us/row); rows left at v1: ${left!.n}; v1 key retired: ${retired!.retired}, wrapped bytes now ${retired!.bytes}`);
  console.log(`  memory: RSS ${mb(startRss)} at start, peak ${mb(peak)} during the rotation (+${mb(peak - startRss)}); process maxRSS ${mb(process.resourceUsage().maxRSS * 1024)} (includes seeding)`);
  await admin.end();
  await database.close();
} finally {
  await root.unsafe(`drop database if exists "${dbName}" with (force)`);
  await root.end();
}
