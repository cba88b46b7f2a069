// Email delivery throughput: N queued credential emails through the real worker (its own process:
// claim, render in the recipient's language with tracked links, send through the resend SDK, record)
// to a local fake of Resend's API. Reports emails/s and the worker's peak RSS.
import { randomBytes } from "node:crypto";
import { fork } from "node:child_process";
import postgres from "postgres";
import { loadConfig } from "../../src/config.js";
import { openDatabase } from "../../src/db/database.js";
import { withTenantTransaction } from "../../src/db/tenant-transaction.js";
import { boundQuery } from "../../src/db/request-connection.js";
import { enqueueEmailDelivery } from "../../src/modules/jobs/enqueue.js";
import { startFakeResend, FAKE_RESEND_KEY } from "../helpers/fake-resend.js";

export async function benchDelivery(sizes: number[], serverUrl: string) {
  const dbName = `laurel_bench_${randomBytes(4).toString("hex")}`;
  const adminUrl = Object.assign(new URL(serverUrl), { pathname: `/${dbName}` }).toString();
  const root = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await root.unsafe(`create database "${dbName}"`);
  const fake = await startFakeResend();
  try {
    const keks = `1:${randomBytes(32).toString("base64")}`;
    const env = { ...process.env, DATABASE_URL: adminUrl, LAUREL_KEKS: keks, RESEND_API_KEY: FAKE_RESEND_KEY, RESEND_BASE_URL: fake.url, WORKER_POLL_INTERVAL_MS: "200" };
    const config = loadConfig(env);
    const database = await openDatabase(config);
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
    const [seed] = await admin`select tenant_id from sign_up('mail@example.test', 'Mail', 'x', 'Mail University', 'mail-university')`;
    const tenantId = seed!.tenant_id as string;
    const claims = { dbRole: config.roles.member, tenantId, userId: null };
    for (const size of sizes) {
      fake.sent.length = 0;
      fake.calls.length = 0;
      // Queued as issuance queues them: the message rows and their send jobs in one transaction.
      await withTenantTransaction(database, claims, async (db) => {
        for (let start = 0; start < size; start += 5000) {
          const n = Math.min(5000, size - start);
          const rows = await boundQuery<{ id: string }>(
            `insert into email_outbox (tenant_id, kind, to_email, locale, idempotency_key, payload)
             select $1, 'credential_issued', 'p' || g || '@bench.test', case when g % 3 = 0 then 'fr' else 'en' end,
                    'bench-' || $2 || '-' || g, '{"name":"Bench Certificate"}'
               from generate_series($3::int, $4::int) g returning id`,
            [tenantId, size, start, start + n - 1],
          );
          await enqueueEmailDelivery(db, rows.rows.map((r) => r.id));
        }
      }, { timeout: 600_000 });
      const worker = fork(new URL("./queue-worker-process.ts", import.meta.url).pathname, [], { execArgv: ["--import", "tsx", ...(process.env.BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [])], env });
      await new Promise<void>((resolve) => worker.on("message", (m: { ready?: boolean }) => m.ready && resolve()));
      const t0 = performance.now();
      for (;;) {
        const [row] = await admin`select count(*) filter (where status in ('queued', 'sending'))::int as left from email_outbox where tenant_id = ${tenantId}`;
        if (row!.left === 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const seconds = (performance.now() - t0) / 1000;
      const peak = await new Promise<number>((resolve) => {
        worker.on("message", (m: { peakRssMb?: number }) => m.peakRssMb && resolve(m.peakRssMb));
        worker.kill("SIGTERM");
      });
      const unique = new Set(fake.sent.map((m) => m.ref)).size;
      const requests = fake.calls.filter((c) => c.path.startsWith("/emails")).length;
      console.log(
        `  ${size.toLocaleString("en")} emails: ${seconds.toFixed(1)} s → ${Math.round(size / seconds).toLocaleString("en")} emails/s ` +
          `(target >= 1,000; ${unique.toLocaleString("en")} distinct messages in ${requests} requests), worker peak RSS ${peak.toFixed(0)} MB`,
      );
      await admin`delete from email_outbox where tenant_id = ${tenantId}`;
    }
    await admin.end();
    await database.close();
  } finally {
    await fake.close();
    await root.unsafe(`drop database if exists "${dbName}" with (force)`);
    await root.end();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const sizes = (process.argv.slice(2).length ? process.argv.slice(2) : ["10000"]).map(Number);
  console.log("Email delivery through the worker to a fake Resend:");
  await benchDelivery(sizes, process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres");
}
