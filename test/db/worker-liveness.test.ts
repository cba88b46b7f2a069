// A worker killed with SIGKILL holds its jobs no longer than a couple of heartbeats: its liveness lock
// went with its connection, so another worker releases them long before the stale-heartbeat timeout
// (set here to ten minutes, so only the lock can explain a release within this test).
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withTenantTransaction } from "../../src/db/tenant-transaction.js";
import { boundQuery } from "../../src/db/request-connection.js";
import { enqueueEmailDelivery } from "../../src/modules/jobs/enqueue.js";
import { tenantKeys } from "../../src/modules/vault/vault.js";
import { sealNewMessage } from "../../src/modules/delivery/sealed-outbox.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant } from "../helpers/factories.js";
import { startFakeResend, FAKE_RESEND_KEY, type FakeResend } from "../helpers/fake-resend.js";
import { deliveryConfig, waitFor } from "../helpers/worker.js";
import { TEST_ENV } from "../helpers/env.js";

const repo = new URL("../../", import.meta.url).pathname;
let fake: FakeResend;
let app: TestApp;
const children: ChildProcess[] = [];

function startWorker() {
  const child = spawn(process.execPath, ["--import", "tsx", "src/worker.ts"], {
    cwd: repo,
    env: {
      ...process.env,
      ...TEST_ENV,
      DATABASE_URL: app.db.adminUrl,
      RESEND_API_KEY: FAKE_RESEND_KEY,
      RESEND_BASE_URL: fake.url,
      WORKER_CONCURRENCY: "2",
      WORKER_POLL_INTERVAL_MS: "100",
      WORKER_HEARTBEAT_MS: "500",
      WORKER_STALE_AFTER_MS: "600000",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  return { child, output: () => output };
}

beforeAll(async () => {
  fake = await startFakeResend();
  app = await startTestApp(deliveryConfig({ resendUrl: fake.url }));
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  await app?.close();
  await fake?.close();
});

describe("a worker killed with SIGKILL", () => {
  it("has its jobs released by another worker well before the stale-heartbeat timeout", async () => {
    const tenant = await signUpTenant(app, "Liveness College");
    await withTenantTransaction(app.database, { dbRole: app.config.roles.member, tenantId: tenant.tenantId, userId: null }, async (db) => {
      // Messages are stored sealed under the tenant's keys (sql/047), as compose.ts writes them.
      const keys = await tenantKeys(db, tenant.tenantId);
      const rows = { rows: [] as { id: string }[] };
      for (const g of [1, 2]) {
        const id = randomUUID();
        const sealed = sealNewMessage(keys, id, { toEmail: `live${g}@example.test`, payload: { name: "Liveness" }, content: null });
        const inserted = await boundQuery<{ id: string }>(
          `insert into email_outbox (tenant_id, id, kind, key_version, to_email_sealed, to_email_index, payload_sealed, locale, idempotency_key)
           values ($1, $2, 'credential_issued', $3, $4, $5, $6, 'en', $7) returning id`,
          [tenant.tenantId, id, sealed.keyVersion, Buffer.from(sealed.toEmail), Buffer.from(sealed.toEmailIndex), Buffer.from(sealed.payload), `live-${g}`],
        );
        rows.rows.push(...inserted.rows);
      }
      // One job per message, so the killed worker is caught holding some.
      for (const row of rows.rows) await enqueueEmailDelivery(db, [row.id]);
    });
    fake.latencyMs = 60_000; // the first worker waits on Resend, holding its jobs, when it is killed
    const first = startWorker();
    const locked = await waitFor(async () => {
      const rows = await app.db.admin<{ locked_by: string }[]>`select distinct locked_by from graphile_worker._private_jobs where locked_by is not null`;
      const [sending] = await app.db.admin<{ n: number }[]>`select count(*)::int as n from email_outbox where status = 'sending'`;
      return rows.length && sending!.n > 0 ? rows : null;
    }, `the first worker to hold a job (${first.output()})`, 60_000);
    first.child.kill("SIGKILL");
    await new Promise((resolve) => first.child.once("exit", resolve));
    fake.latencyMs = 0;

    const second = startWorker();
    await waitFor(async () => {
      const [row] = await app.db.admin<{ sent: number }[]>`select count(*) filter (where status = 'sent')::int as sent from email_outbox where tenant_id = ${tenant.tenantId}`;
      return row!.sent === 2;
    }, `both messages sent after the first worker died (${second.output().slice(-1000)})`, 60_000);
    expect(second.output()).toContain(`released the jobs of stopped workers: ${locked[0]!.locked_by}`);
    // A job's row goes once the task has returned, a moment after its messages show as sent: wait for that,
    // rather than catch it in between (this failed now and then on a busy machine).
    await waitFor(async () => {
      const [jobs] = await app.db.admin<{ n: number }[]>`select count(*)::int as n from graphile_worker._private_jobs`;
      return jobs!.n === 0;
    }, "no job left", 30_000);
  }, 150_000);
});
