// The daily deadline warning and the completion webhook: owners get a short email naming no one,
// partners a data_subject_request.due_soon event, each request once; closing a request sends
// data_subject_request.completed. Run as a service with a fixed `now`, then through the real worker.
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { decodeGlobalID } from "@pothos/plugin-relay";
import { outboxOf } from "../helpers/sealed.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CreateRecipientDocument,
  CreateWebhookEndpointDocument,
  FileDataSubjectRequestDocument,
  UpdateDataSubjectRequestDocument,
  type DataSubjectRequestKind,
} from "../../src/sdk/generated.js";
import { withTenantTransaction } from "../../src/db/tenant-transaction.js";
import type { QueueWorker } from "../../src/modules/jobs/worker.js";
import { isDueSoon, warnTenantDeadlines } from "../../src/modules/privacy/deadline-warnings.js";
import { builtInContent, render, requestTitle } from "../../src/modules/delivery/content.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, type TestTenant } from "../helpers/factories.js";
import { startFakeResend, type FakeResend } from "../helpers/fake-resend.js";
import { deliveryConfig, startTestWorker, waitFor } from "../helpers/worker.js";

const NAME = "Wilhelmina Quarrington-Søe";
const EMAIL = `w.quarrington.${randomBytes(3).toString("hex")}@example.test`;
// A Wednesday (UTC, the tenants' zone): "due soon" reaches the end of Friday 11 January.
const NOW = new Date("2030-01-09T10:00:00Z");

let fake: FakeResend;
let app: TestApp;
let worker: QueueWorker;
let receiver: http.Server;
let a: TestTenant;
let b: TestTenant;

beforeAll(async () => {
  fake = await startFakeResend();
  receiver = http.createServer((_req, res) => res.writeHead(204).end());
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  app = await startTestApp(deliveryConfig({ resendUrl: fake.url }));
  worker = await startTestWorker(app);
  a = await signUpTenant(app, "Deadline College");
  b = await signUpTenant(app, "Another College");
  for (const t of [a, b]) {
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/${t.tenantId}`;
    const { createWebhookEndpoint } = await t.owner.request(CreateWebhookEndpointDocument, {
      input: { url, eventTypes: ["data_subject_request.due_soon", "data_subject_request.completed"] },
    });
    if (createWebhookEndpoint.__typename !== "WebhookSecretPayload") throw new Error(JSON.stringify(createWebhookEndpoint));
  }
}, 30_000);
afterAll(async () => {
  await worker?.stop();
  await app?.close();
  await fake?.close();
  await new Promise((resolve) => receiver?.close(resolve));
});

async function person(t: TestTenant, email: string, name: string) {
  const { createRecipient } = await t.owner.request(CreateRecipientDocument, { input: { email, name, attributes: { employeeNumber: "E-99173" } } });
  if (createRecipient.__typename !== "Recipient") throw new Error(JSON.stringify(createRecipient));
  return createRecipient.id;
}

/** Files a request through the SDK, then dates it as the scenario needs (only the owner may rewrite dates). */
async function request(t: TestTenant, recipientId: string, kind: DataSubjectRequestKind, receivedAt: string, deadlineAt: string, final = false) {
  const { fileDataSubjectRequest: filed } = await t.owner.request(FileDataSubjectRequestDocument, {
    input: { kind, recipientId, identityVerification: { method: "known_contact" }, ...(kind === "rectification" ? { requestedChanges: { name: "Corrected Name" } } : {}) },
  });
  if (filed.__typename !== "DataSubjectRequest") throw new Error(JSON.stringify(filed));
  const id = decodeGlobalID(filed.id).id;
  await app.db.admin`update data_subject_requests set received_at = ${receivedAt}::timestamptz, deadline_at = ${deadlineAt}::timestamptz,
                       state = ${final ? "completed" : "open"}, completed_at = ${final ? receivedAt : null}::timestamptz
                      where id = ${id}`;
  return { globalId: filed.id, id };
}

async function deliveries(t: TestTenant, type: string) {
  return app.db.admin<{ payload: any }[]>`select payload from webhook_deliveries where tenant_id = ${t.tenantId} and event_type = ${type} order by created_at`;
}

const warnAt = (t: TestTenant, now: Date) =>
  withTenantTransaction(app.database, { dbRole: app.config.roles.member, tenantId: t.tenantId, userId: null }, (db) => warnTenantDeadlines(db, app, t.tenantId, now));

describe("the due-soon email's wording", () => {
  it("names each kind of request grammatically, in English and French, with the request's id", () => {
    const view = (kind: string, locale: string) => ({ request: { title: requestTitle(kind, locale), id: "RGF0YQ==", receivedOn: "30 November 2026", dueOn: "1 December 2026" }, tenant: { name: "T" } });
    expect(render(builtInContent("data_subject_request_due", "en").content, view("erasure", "en")).text)
      .toContain("An erasure request received 30 November 2026 is due 1 December 2026.\n\nIts id, as Laurel's API shows it: RGF0YQ==\n");
    expect(render(builtInContent("data_subject_request_due", "fr-CA").content, view("erasure", "fr-CA")).text)
      .toContain("Une demande d'effacement reçue le 30 November 2026 est due le 1 December 2026.\n\nSon identifiant, tel que l'API de Laurel l'affiche : RGF0YQ==\n");
    for (const kind of ["access", "portability", "rectification", "erasure", "restriction", "objection", "consent_withdrawal"]) {
      expect(requestTitle(kind, "en"), kind).toMatch(/^(An? [a-z ]+ request)$/);
      expect(requestTitle(kind, "fr"), kind).toMatch(/^Une demande d/);
    }
    expect(requestTitle("access", "de")).toBe("An access request");
  });
});

describe("due soon", () => {
  it("counts working days after today: due Friday is warned from Wednesday, not Tuesday; a holiday pushes it", () => {
    const friday = new Date("2030-01-11T23:59:59.999Z");
    expect(isDueSoon(friday, NOW, "UTC", new Set())).toBe(true);
    expect(isDueSoon(friday, new Date("2030-01-08T10:00:00Z"), "UTC", new Set())).toBe(false);
    expect(isDueSoon(new Date("2030-01-14T23:59:59.999Z"), NOW, "UTC", new Set())).toBe(false);
    expect(isDueSoon(new Date("2030-01-14T23:59:59.999Z"), NOW, "UTC", new Set(["2030-01-10"]))).toBe(true);
    expect(isDueSoon(new Date("2030-01-01T23:59:59.999Z"), NOW, "UTC", new Set())).toBe(true);
  });
});

describe("the daily deadline warning", () => {
  let soon: { globalId: string; id: string };
  let overdue: { globalId: string; id: string };
  let far: { id: string };
  let closed: { id: string };

  beforeAll(async () => {
    const who = await person(a, EMAIL, NAME);
    soon = await request(a, who, "access", "2029-12-11T09:00:00Z", "2030-01-11T23:59:59.999Z");
    overdue = await request(a, who, "consent_withdrawal", "2029-12-03T09:00:00Z", "2030-01-03T23:59:59.999Z");
    far = await request(a, who, "portability", "2030-01-08T09:00:00Z", "2030-02-08T23:59:59.999Z");
    closed = await request(a, who, "rectification", "2029-12-10T09:00:00Z", "2030-01-10T23:59:59.999Z", true);
    // Another tenant: a request nowhere near its deadline.
    await request(b, await person(b, `other.${EMAIL}`, "Other Person"), "access", "2030-01-08T09:00:00Z", "2030-02-08T23:59:59.999Z");
  }, 30_000);

  it("warns the requests due within two working days or overdue, and no others", async () => {
    expect((await warnAt(a, NOW)).sort()).toEqual([soon.id, overdue.id].sort());
    expect(await warnAt(b, NOW)).toEqual([]);
    const rows = await app.db.admin<{ id: string; warned_at: Date | null }[]>`select id, warned_at from data_subject_requests where tenant_id = ${a.tenantId}`;
    const warned = Object.fromEntries(rows.map((r) => [r.id, r.warned_at]));
    expect(warned[soon.id]).toEqual(NOW);
    expect(warned[far.id]).toBeNull();
    expect(warned[closed.id]).toBeNull();
  });

  it("emails the tenant's owners what is due and when, naming no one", async () => {
    const mails = await waitFor(async () => {
      const m = fake.sent.filter((s) => s.to.includes(a.email) && s.tags.some((t) => t.value === "data_subject_request_due"));
      return m.length === 2 ? m : null;
    }, "the owners' emails");
    const soonMail = mails.find((m) => m.text.includes(soon.globalId));
    const overdueMail = mails.find((m) => m.text.includes(overdue.globalId));
    expect(soonMail?.text).toContain(`An access request received 11 December 2029 is due 11 January 2030.\n\nIts id, as Laurel's API shows it: ${soon.globalId}\n`);
    expect(overdueMail?.text).toContain(`A consent withdrawal request received 3 December 2029 is due 3 January 2030.\n\nIts id, as Laurel's API shows it: ${overdue.globalId}\n`);
    expect(soonMail!.html).toContain(`<code>${soon.globalId}</code>`);
    expect(decodeGlobalID(soon.globalId)).toEqual({ typename: "DataSubjectRequest", id: soon.id });
    for (const m of mails) {
      for (const secret of [NAME, EMAIL, EMAIL.split("@")[0]!, "E-99173", "Wilhelmina"]) {
        expect(`${m.subject}\n${m.text}\n${m.html}`).not.toContain(secret);
      }
    }
    expect(fake.sent.some((s) => s.to.includes(b.email) && s.tags.some((t) => t.value === "data_subject_request_due"))).toBe(false);
  });

  it("queues a due_soon webhook per warned request, with ids, kind and dates only, and none for another tenant", async () => {
    const sent = await deliveries(a, "data_subject_request.due_soon");
    expect(sent.map((d) => d.payload.data)).toEqual(expect.arrayContaining([
      { requestId: soon.globalId, kind: "access", state: "open", receivedAt: "2029-12-11T09:00:00.000Z", deadlineAt: "2030-01-11T23:59:59.999Z" },
      { requestId: overdue.globalId, kind: "consent_withdrawal", state: "open", receivedAt: "2029-12-03T09:00:00.000Z", deadlineAt: "2030-01-03T23:59:59.999Z" },
    ]));
    expect(sent).toHaveLength(2);
    expect(JSON.stringify(sent)).not.toContain(EMAIL);
    expect(JSON.stringify(sent)).not.toContain(NAME);
    expect(await deliveries(b, "data_subject_request.due_soon")).toHaveLength(0);
  });

  it("warns nobody again on a second run, and never a final request", async () => {
    expect(await warnAt(a, NOW)).toEqual([]);
    expect(await warnAt(a, new Date("2030-03-01T10:00:00Z"))).toEqual([far.id]);
    expect(await deliveries(a, "data_subject_request.due_soon")).toHaveLength(3);
  });

  it("sends data_subject_request.completed when staff close a request, naming no one", async () => {
    const { updateDataSubjectRequest } = await a.owner.request(UpdateDataSubjectRequestDocument, {
      input: { id: soon.globalId, state: "refused", outcome: "Manifestly unfounded" },
    });
    if (updateDataSubjectRequest.__typename !== "DataSubjectRequest") throw new Error(JSON.stringify(updateDataSubjectRequest));
    const [done] = await deliveries(a, "data_subject_request.completed");
    expect(done!.payload.data).toEqual({ requestId: soon.globalId, kind: "access", state: "refused", completedAt: expect.any(String) });
    expect(await deliveries(b, "data_subject_request.completed")).toHaveLength(0);
    // The person is told of the refusal and its reasons (Art. 12(4)), at the address on record.
    const [told] = await outboxOf(app, a.tenantId, "data_subject_request_refused");
    expect(told).toMatchObject({ to_email: EMAIL, payload: { requestKind: "access", reason: "Manifestly unfounded" } });
  });
});

describe("through the real worker", () => {
  it("the cron task warns a request due within the hour, once, across tenants", async () => {
    const who = await person(b, `third.${EMAIL}`, "Third Person");
    const now = Date.now();
    const due = await request(b, who, "erasure", new Date(now - 6 * 86_400_000).toISOString(), new Date(now + 3_600_000).toISOString());
    await app.db.admin`select graphile_worker.add_job('privacy_deadline_warnings')`;
    await waitFor(async () => (await deliveries(b, "data_subject_request.due_soon")).length === 1, "the due_soon webhook");
    await waitFor(async () => fake.sent.some((s) => s.to.includes(b.email) && s.tags.some((t) => t.value === "data_subject_request_due")), "the owner's email");
    const [row] = await app.db.admin<{ warned_at: Date | null }[]>`select warned_at from data_subject_requests where id = ${due.id}`;
    expect(row!.warned_at).not.toBeNull();
    await app.db.admin`select graphile_worker.add_job('privacy_deadline_warnings')`;
    await waitFor(async () => (await app.db.admin`select 1 from graphile_worker.jobs where task_identifier = 'privacy_deadline_warnings'`).length === 0, "the second run");
    expect(await deliveries(b, "data_subject_request.due_soon")).toHaveLength(1);
  }, 30_000);
});
