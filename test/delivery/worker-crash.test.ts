// `npm run worker` killed with SIGKILL in the middle of 1,000 deliveries, then started again: every
// email reaches the (fake) Resend exactly once. The second worker releases the dead one's jobs once its
// heartbeat stops; messages caught between "sent" and "recorded" are sent again under the same
// Idempotency-Key, and Resend answers with the first send instead of sending twice.
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withTenantTransaction } from "../../src/db/tenant-transaction.js";
import { boundQuery } from "../../src/db/request-connection.js";
import { enqueueEmailDelivery } from "../../src/modules/jobs/enqueue.js";
import { tenantKeys } from "../../src/modules/vault/vault.js";
import { hex } from "../../src/modules/vault/batch-sql.js";
import { sealNewMessage } from "../../src/modules/delivery/sealed-outbox.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant } from "../helpers/factories.js";
import { startFakeResend, FAKE_RESEND_KEY, type FakeResend } from "../helpers/fake-resend.js";
import { deliveryConfig, waitFor } from "../helpers/worker.js";
import { TEST_ENV } from "../helpers/env.js";

const root = new URL("../../", import.meta.url).pathname;
const MESSAGES = 1000;
let fake: FakeResend;
let app: TestApp;
const children: ChildProcess[] = [];

function startWorker(): { child: ChildProcess; output: () => string } {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: app.db.adminUrl,
    ...TEST_ENV,
    RESEND_API_KEY: FAKE_RESEND_KEY,
    RESEND_BASE_URL: fake.url,
    WORKER_CONCURRENCY: "4",
    WORKER_POLL_INTERVAL_MS: "100",
    WORKER_HEARTBEAT_MS: "250",
    WORKER_STALE_AFTER_MS: "1500",
    NODE_ENV: "test",
  };
  const child = spawn(process.execPath, ["--import", "tsx", "src/worker.ts"], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  return { child, output: () => output };
}

beforeAll(async () => {
  fake = await startFakeResend();
  fake.latencyMs = 20;
  app = await startTestApp(deliveryConfig({ resendUrl: fake.url }));
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  await app?.close();
  await fake?.close();
});

describe("a worker killed mid-delivery", () => {
  it("sends each of 1,000 emails exactly once after a restart", async () => {
    const tenant = await signUpTenant(app, "Crash Test College");
    await withTenantTransaction(app.database, { dbRole: app.config.roles.member, tenantId: tenant.tenantId, userId: null }, async (db) => {
      // Addresses and payloads are sealed under the tenant's keys, as the app writes them (one statement, as before).
      const keys = await tenantKeys(db, tenant.tenantId);
      const ids = Array.from({ length: MESSAGES }, () => randomUUID());
      const sealed = ids.map((id, i) => sealNewMessage(keys, id, { toEmail: `person${i + 1}@example.test`, payload: { name: "Crash Course" }, content: null }));
      const rows = await boundQuery<{ id: string }>(
        `insert into email_outbox (id, tenant_id, kind, key_version, to_email_sealed, to_email_index, payload_sealed, locale, idempotency_key)
         select m.id, $1, 'credential_issued', $2, decode(m.to_email, 'hex'), decode(m.to_email_index, 'hex'), decode(m.payload, 'hex'), 'en', 'crash-' || m.g
           from unnest($3::uuid[], $4::text[], $5::text[], $6::text[]) with ordinality as m(id, to_email, to_email_index, payload, g) returning id`,
        [tenant.tenantId, keys.current, ids, sealed.map((m) => hex(m.toEmail)), sealed.map((m) => hex(m.toEmailIndex)), sealed.map((m) => hex(m.payload))],
      );
      expect(rows.rows).toHaveLength(MESSAGES);
      await enqueueEmailDelivery(db, rows.rows.map((r) => r.id));
    });

    const first = startWorker();
    fake.responseDelayMs = 1500; // the kill lands after batches were accepted, before the worker recorded them
    await waitFor(async () => fake.sent.length >= 300, "the first worker to send 300 emails", 60_000);
    first.child.kill("SIGKILL");
    await new Promise((resolve) => first.child.once("exit", resolve));
    const sentBeforeKill = fake.sent.length;
    fake.responseDelayMs = 0;
    expect(sentBeforeKill).toBeLessThan(MESSAGES); // killed in the middle, not after

    const second = startWorker();
    await waitFor(async () => {
      const [row] = await app.db.admin`select count(*) filter (where status = 'sent')::int as sent from email_outbox where tenant_id = ${tenant.tenantId}`;
      return row!.sent === MESSAGES;
    }, `all ${MESSAGES} messages recorded as sent (${second.output().slice(-500)})`, 90_000);

    // Every message reached Resend once: one email per message id, none twice.
    const refs = fake.sent.map((m) => m.ref);
    expect(new Set(refs).size).toBe(MESSAGES);
    expect(fake.sent).toHaveLength(MESSAGES);
    const rows = await app.db.admin<{ id: string; provider_message_id: string }[]>`
      select id, provider_message_id from email_outbox where tenant_id = ${tenant.tenantId}`;
    const idByRef = new Map(fake.sent.map((m) => [m.ref, m.id]));
    for (const row of rows) expect(row.provider_message_id).toBe(idByRef.get(row.id));
    const [jobs] = await app.db.admin`select count(*)::int as n from graphile_worker._private_jobs`;
    expect(jobs!.n).toBe(0);
    const requests = fake.calls.filter((c) => c.path.startsWith("/emails"));
    const replays = requests.length - new Set(requests.map((c) => c.idempotencyKey)).size;
    expect(new Set(requests.map((c) => c.idempotencyKey)).size).toBe(MESSAGES / 100); // ten batches, each keyed by its messages
    console.log(`worker crash: ${sentBeforeKill} emails sent before SIGKILL, ${replays} batch request(s) replayed under their Idempotency-Key after restart`);
  }, 180_000);
});
