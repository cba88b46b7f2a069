// Bulk issuance throughput: N rows through the real worker (signed, committed, email queued, audited),
// reported as credentials/s and the process's peak RSS. Run alone: npm run bench:bulk -- [rows...]
// (default 10,000; `npm run bench` runs it too, after the request path).
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { loadConfig } from "../../src/config.js";
import { openDatabase } from "../../src/db/database.js";
import { withTenantTransaction } from "../../src/db/tenant-transaction.js";
import { ROLE_PERMISSIONS } from "../../src/modules/auth/permissions.js";
import { createTemplate, setTemplateStatus } from "../../src/modules/templates/service.js";
import { createBulkJob } from "../../src/modules/bulk/service.js";
import { fork } from "node:child_process";
import { setCertificateDesign } from "../../src/modules/designs/service.js";
import type { CertificateDesignInput } from "../../src/modules/designs/design.js";

/** `design`: a certificate design set on the template first (designs only matter when a PDF is drawn). */
export async function benchBulk(sizes: number[], serverUrl: string, options: { design?: CertificateDesignInput } = {}) {
  const dbName = `laurel_bench_${randomBytes(4).toString("hex")}`;
  const adminUrl = Object.assign(new URL(serverUrl), { pathname: `/${dbName}` }).toString();
  const root = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await root.unsafe(`create database "${dbName}"`);
  const lines: string[] = [];
  try {
    const keks = `1:${randomBytes(32).toString("base64")}`;
    const config = loadConfig({ ...process.env, DATABASE_URL: adminUrl, LAUREL_KEKS: keks });
    const database = await openDatabase(config);
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
    // BENCH_SQL: statements run on the bench database after migrating, to measure a schema change before
    // writing its migration (e.g. "drop index recipients_key_version").
    if (process.env.BENCH_SQL) await admin.unsafe(process.env.BENCH_SQL);
    const [seed] = await admin`select user_id, tenant_id from sign_up('bulk@example.test', 'Bulk', 'x', 'Bulk University', 'bulk-university')`;
    await admin.end();
    const tenantId = seed!.tenant_id as string;
    const caller = { tenantId, actor: { kind: "user" as const, id: seed!.user_id as string }, permissions: ROLE_PERMISSIONS.owner, requestId: "bench" };
    const claims = { dbRole: config.roles.member, tenantId, userId: caller.actor.id };
    const template = await withTenantTransaction(database, claims, async (db) => {
      const t = await createTemplate(db, caller, "CERTIFICATE", {
        name: "Bench Certificate",
        description: "Completed a course.",
        credentialDescription: "{{recipientName}} completed {{course}}.",
        criteriaNarrative: "Completed the course.",
        customFields: [{ name: "course", type: "TEXT", required: true }],
      });
      await setTemplateStatus(db, caller, t.id, "ACTIVE");
      if (options.design) await setCertificateDesign(db, caller, t.id, options.design);
      return t;
    });
    for (const size of sizes) {
      const rows = Array.from({ length: size }, (_, i) => ({ email: `p${size}-${i}@bench.test`, name: `Person ${i}`, fieldValues: { course: "Chemistry 101" } }));
      const job = await withTenantTransaction(database, claims, (db) => createBulkJob(db, caller, template.id, rows, "ROWS"), { timeout: 600_000 });
      // The worker runs in its own process (as `npm run worker` would), so its RSS is its own.
      const worker = fork(new URL("./queue-worker-process.ts", import.meta.url).pathname, [], {
        execArgv: ["--import", "tsx", ...(process.env.BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [])],
        env: { ...process.env, DATABASE_URL: adminUrl, LAUREL_KEKS: keks, LAUREL_DB_LOGIN_PASSWORD: config.loginPassword },
      });
      await new Promise<void>((resolve) => worker.on("message", (m: { ready?: boolean }) => m.ready && resolve()));
      const t0 = performance.now();
      for (;;) {
        const status = await withTenantTransaction(database, claims, (db) => db.bulkJob.findUniqueOrThrow({ where: { tenantId_id: { tenantId, id: job.id } } }));
        if (status.status === "COMPLETED" || status.status === "FAILED") {
          if (status.issuedCount !== size) throw new Error(`expected ${size} issued, got ${status.issuedCount} (${status.status})`);
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      const seconds = (performance.now() - t0) / 1000;
      const peak = await new Promise<number>((resolve) => {
        worker.on("message", (m: { peakRssMb?: number }) => m.peakRssMb && resolve(m.peakRssMb * 1024 * 1024));
        worker.kill("SIGTERM");
      });
      const [counts] = await withTenantTransaction(database, claims, (db) =>
        db.$queryRaw<{ credentials: number; emails: number }[]>`
          select (select count(*)::int from credentials where tenant_id = ${tenantId}::uuid) as credentials,
                 (select count(*)::int from email_outbox where tenant_id = ${tenantId}::uuid and kind = 'credential_issued') as emails`,
      );
      lines.push(
        `bulk${options.design ? ` (design ${options.design.layout})` : ""} ${String(size).padStart(7)} credentials: ${seconds.toFixed(1).padStart(6)} s  ${(size / seconds).toFixed(0).padStart(6)} credentials/s   worker peak RSS ${(peak / 1024 / 1024).toFixed(0)} MB   (total in db: ${counts!.credentials} credentials, ${counts!.emails} emails queued)`,
      );
      console.log(lines.at(-1));
    }
    await database.close();
  } finally {
    await root.unsafe(`drop database if exists "${dbName}" with (force)`);
    await root.end();
  }
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // The test roles, never a deployment's laurel_* roles on the same cluster (the worker inherits them).
  const { TEST_ENV } = await import("../helpers/env.js");
  Object.assign(process.env, TEST_ENV);
  const sizes = process.argv.slice(2).map(Number).filter(Boolean);
  await benchBulk(sizes.length ? sizes : [10_000], process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres");
}
