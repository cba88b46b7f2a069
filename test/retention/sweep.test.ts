// The daily retention job, category by category: rows older than the tenant's setting go, younger ones
// stay, another tenant's rows follow that tenant's own setting; large backlogs finish in batches; whole
// engagement partitions are dropped only when every tenant's retention has passed them.
import { randomUUID } from "node:crypto";
import { mkdir, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ownerPool } from "../../src/db/migrate.js";
import { runRetention, type RetentionReport } from "../../src/modules/retention/sweep.js";
import { UpdateRetentionSettingsDocument } from "../../src/sdk/generated.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { tenantWithTemplate, type EngagementTenant } from "../engagement/setup.js";
import { keysOf, openedMessages } from "../helpers/sealed.js";
import { sealField, sealNewMessage } from "../../src/modules/delivery/sealed-outbox.js";

let app: TestApp;
let owner: pg.Pool;
let a: EngagementTenant; // short settings
let b: EngagementTenant; // defaults

async function run(options: { batch?: number } = {}): Promise<RetentionReport> {
  const client = await owner.connect();
  try {
    const report = await runRetention({ config: app.config, database: app.database }, client, options);
    expect(report).not.toBeNull();
    return report!;
  } finally {
    client.release();
  }
}

const count = async (table: string, tenantId: string, where = "true") =>
  (await app.db.admin.unsafe<{ n: number }[]>(`select count(*)::int as n from ${table} where tenant_id = $1 and ${where}`, [tenantId]))[0]!.n;

beforeAll(async () => {
  app = await startTestApp();
  owner = await ownerPool(app.db.adminUrl, app.config.roles.owner, 2);
  a = await tenantWithTemplate(app, "Short Memory College");
  b = await tenantWithTemplate(app, "Default Memory College");
  const set = await a.owner.request(UpdateRetentionSettingsDocument, {
    input: { deliveryLogDays: 7, emailBodyDays: 1, exportFileDays: 1, auditLogDays: 365 },
  });
  expect(set.updateRetentionSettings.__typename).toBe("RetentionSettings");
});
afterAll(async () => {
  await owner.end();
  await app.close();
});

describe("the retention job", () => {
  it("deletes audit entries past each tenant's own setting, in batches, and records what went", async () => {
    for (const t of [a, b]) {
      await app.db.admin`
        insert into audit_log (tenant_id, at, actor_kind, action)
        select ${t.tenantId}, now() - interval '400 days' - make_interval(secs => n::integer), 'system', 'test.old'
          from generate_series(1, 12000) n`;
      await app.db.admin`insert into audit_log (tenant_id, at, actor_kind, action) values (${t.tenantId}, now() - interval '300 days', 'system', 'test.younger')`;
    }
    const started = performance.now();
    const report = await run();
    console.log(`retention run over 12,000 expired audit rows (batches of 5,000): ${Math.round(performance.now() - started)} ms`);
    expect(report.rows.audit_log).toBe(12000);
    expect(await count("audit_log", a.tenantId, "action = 'test.old'")).toBe(0);
    expect(await count("audit_log", a.tenantId, "action = 'test.younger'")).toBe(1);
    expect(await count("audit_log", b.tenantId, "action = 'test.old'")).toBe(12000); // b keeps two years
    const [entry] = await app.db.admin<{ details: Record<string, number> }[]>`
      select details from audit_log where tenant_id = ${a.tenantId} and action = 'retention.expired' order by at desc limit 1`;
    expect(entry!.details.audit_log).toBe(12000);
  });

  it("blanks email bodies of finished messages past the setting and keeps the delivery record", async () => {
    // Stored sealed under each tenant's keys (sql/047), as compose.ts and the worker write them.
    const insert = async (t: EngagementTenant, key: string, status: string, doneAgo: string) => {
      const keys = await keysOf(app, t.tenantId);
      const id = randomUUID();
      const sealed = sealNewMessage(keys, id, { toEmail: "someone@example.test", payload: {}, content: null });
      await app.db.admin`
        insert into email_outbox (tenant_id, id, kind, key_version, to_email_sealed, to_email_index, payload_sealed, idempotency_key, status,
                                  subject_sealed, html_sealed, text_body_sealed, content_sealed, delivered_at, sent_at)
        values (${t.tenantId}, ${id}, 'test', ${sealed.keyVersion}, ${sealed.toEmail}, ${sealed.toEmailIndex}, ${sealed.payload}, ${key}, ${status}::email_status,
                ${sealField(keys, id, "subject", "Subject")}, ${sealField(keys, id, "html", "<p>Hi</p>")}, ${sealField(keys, id, "text_body", "Hi")},
                ${sealField(keys, id, "content", JSON.stringify({ a: 1 }))},
                case when ${status} = 'delivered' then now() - ${doneAgo}::interval end, now() - ${doneAgo}::interval)`;
    };
    await insert(a, "old", "delivered", "3 days");
    await insert(a, "young", "delivered", "1 hour");
    await insert(a, "waiting", "queued", "3 days");
    await insert(b, "old", "delivered", "3 days");
    const report = await run();
    expect(report.rows.email_bodies).toBe(1);
    const rows = (await Promise.all([a, b].map((t) => openedMessages(app, { tenantId: t.tenantId, kind: "test" })))).flat();
    const of = (t: EngagementTenant, key: string) => rows.find((r) => r.tenantId === t.tenantId && r.raw.idempotency_key === key)!;
    expect(of(a, "old")).toMatchObject({ subject: null, html: null, text: null, content: null, status: "delivered" });
    expect(of(a, "old").raw).toMatchObject({ subject_sealed: null, html_sealed: null, text_body_sealed: null, content_sealed: null });
    expect(of(a, "young").subject).toBe("Subject");
    expect(of(a, "waiting").subject).toBe("Subject");
    expect(of(b, "old").html).toBe("<p>Hi</p>"); // b keeps 30 days
  });

  it("deletes webhook attempts, finished deliveries and provider events past the delivery-log setting", async () => {
    for (const t of [a, b]) {
      const [endpoint] = await app.db.admin<{ id: string }[]>`
        insert into webhook_endpoints (tenant_id, url, event_types, secret_sealed, secret_kek_version)
        values (${t.tenantId}, 'https://partner.example.test/hook', '{credential.issued}', '\\x00', 1) returning id`;
      for (const [status, ago] of [["succeeded", "10 days"], ["pending", "10 days"], ["succeeded", "1 day"]] as const) {
        const [delivery] = await app.db.admin<{ id: string }[]>`
          insert into webhook_deliveries (tenant_id, endpoint_id, event_type, payload, status, created_at)
          values (${t.tenantId}, ${endpoint!.id}, 'credential.issued', '{}', ${status}::webhook_delivery_status, now() - ${ago}::interval) returning id`;
        await app.db.admin`
          insert into webhook_attempts (tenant_id, delivery_id, attempt, duration_ms, attempted_at)
          values (${t.tenantId}, ${delivery!.id}, 1, 5, now() - ${ago}::interval)`;
      }
      await app.db.admin`update email_outbox set provider_message_id = ${`pm-${t.tenantId}`} where tenant_id = ${t.tenantId} and idempotency_key = 'old'`;
      await app.db.admin`insert into email_provider_events (event_id, provider_message_id, event_type, received_at)
                         values (${`ev-${t.tenantId}`}, ${`pm-${t.tenantId}`}, 'email.delivered', now() - interval '10 days')`;
    }
    await app.db.admin`insert into email_provider_events (event_id, provider_message_id, event_type, received_at)
                       values ('ev-unknown-old', 'pm-nobody', 'email.delivered', now() - interval '91 days'),
                              ('ev-unknown-young', 'pm-nobody', 'email.delivered', now() - interval '89 days')`;
    const report = await run();
    // a: the 10-day-old pending delivery stays (still retried), its attempt goes; the finished one goes with its attempt.
    expect(await count("webhook_deliveries", a.tenantId)).toBe(2);
    expect(await count("webhook_attempts", a.tenantId)).toBe(1);
    expect(await count("webhook_deliveries", b.tenantId)).toBe(3);
    expect(await count("webhook_attempts", b.tenantId)).toBe(3);
    expect(report.rows).toMatchObject({ webhook_attempts: 2, webhook_deliveries: 1 }); // both 10-day-old attempts, then the finished delivery
    const events = (await app.db.admin<{ event_id: string }[]>`select event_id from email_provider_events order by 1`).map((r) => r.event_id);
    expect(events).toEqual([`ev-${b.tenantId}`, "ev-unknown-young"].sort());
    expect(report.rows.provider_events).toBe(2);
  });

  it("deletes person exports and tenant export files past the export setting", async () => {
    const made = async (t: EngagementTenant, ago: string) => {
      const id = randomUUID();
      const fileName = `${t.tenantId}/${id}.zip`;
      await mkdir(path.join(app.config.exportDir, t.tenantId), { recursive: true });
      await writeFile(path.join(app.config.exportDir, fileName), "zip");
      await app.db.admin`
        insert into tenant_exports (tenant_id, id, state, format_version, finished_at, file_name, sha256, expires_at)
        values (${t.tenantId}, ${id}, 'completed', '1', now() - ${ago}::interval, ${fileName}, ${"0".repeat(64)}, now() + interval '1 day')`;
      await app.db.admin.begin(async (tx) => {
        await tx`set local session_replication_role = replica`; // no request or recipient behind it: keys unchecked
        await tx`insert into person_exports (tenant_id, request_id, recipient_id, bytes, sha256, format_version, created_at, expires_at)
                 values (${t.tenantId}, ${randomUUID()}, ${randomUUID()}, '\\x00', ${"0".repeat(64)}, '1', now() - ${ago}::interval, now() + interval '1 day')`;
      });
      return path.join(app.config.exportDir, fileName);
    };
    const aOld = await made(a, "2 days");
    const aYoung = await made(a, "1 hour");
    const bOld = await made(b, "2 days");
    const report = await run();
    const exists = (file: string) => stat(file).then(() => true, () => false);
    expect([await exists(aOld), await exists(aYoung), await exists(bOld)]).toEqual([false, true, true]);
    expect(report.rows.tenant_export_files).toBe(1);
    expect(await count("person_exports", a.tenantId)).toBe(1);
    expect(await count("person_exports", b.tenantId)).toBe(1);
    expect(await count("tenant_exports", a.tenantId)).toBe(2); // the record that an export was made stays
  });
});
