// Extending a request's deadline by up to two further months (GDPR Art. 12(3)): once, before it passes,
// with reasons told to the person; never erasure; the first deadline kept; the database refuses any
// other rewrite of a deadline.
import { outboxOf } from "../helpers/sealed.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CreateRecipientDocument,
  ExtendDataSubjectRequestDocument,
  FileDataSubjectRequestDocument,
  UpdateDataSubjectRequestDocument,
  type DataSubjectRequestKind,
} from "../../src/sdk/generated.js";
import { LaurelRequestError, type LaurelClient } from "../../src/sdk/index.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createKey, signUpTenant, uniqueEmail, type TestTenant } from "../helpers/factories.js";

let app: TestApp;
let t: TestTenant;
let other: TestTenant;
beforeAll(async () => {
  app = await startTestApp();
  t = await signUpTenant(app, "Patient University");
  other = await signUpTenant(app, "Other University");
});
afterAll(async () => app.close());

const checked = { method: "document_checked" as const, note: "Passport seen" };

async function requestOf(client: LaurelClient, kind: DataSubjectRequestKind, locale?: string) {
  const email = uniqueEmail("person");
  const { createRecipient } = await client.request(CreateRecipientDocument, { input: { email, name: "Ada Person", ...(locale ? { locale } : {}) } });
  if (createRecipient.__typename !== "Recipient") throw new Error(JSON.stringify(createRecipient));
  const extra = kind === "rectification" ? { requestedChanges: { name: "Ada Persson" } } : {};
  const { fileDataSubjectRequest: r } = await client.request(FileDataSubjectRequestDocument, {
    input: { kind, recipientId: createRecipient.id, identityVerification: checked, ...extra },
  });
  if (r.__typename !== "DataSubjectRequest") throw new Error(JSON.stringify(r));
  return { ...r, email };
}

const extend = (client: LaurelClient, id: string, reason: string, months?: number) =>
  client.request(ExtendDataSubjectRequestDocument, { input: { id, reason, ...(months ? { months } : {}) } }).then((r) => r.extendDataSubjectRequest);

describe("extending a request's deadline", () => {
  it("moves it two months later in the tenant's zone, keeps the first one, and emails the person the reasons", async () => {
    const r = await requestOf(t.owner, "access");
    const done = await extend(t.owner, r.id, "  We hold records for you in three archives; gathering them takes time.  ");
    if (done.__typename !== "DataSubjectRequest") throw new Error(JSON.stringify(done));
    const first = new Date(r.deadlineAt);
    const expected = new Date(first);
    expected.setUTCMonth(expected.getUTCMonth() + 2); // the tenant is in UTC: end of the same day two months on
    expect(new Date(done.deadlineAt).toISOString()).toBe(expected.toISOString());
    expect(done.extension).toMatchObject({ reason: "We hold records for you in three archives; gathering them takes time.", originalDeadlineAt: r.deadlineAt });
    expect(done.overdue).toBe(false);
    const [mail] = (await outboxOf(app, t.tenantId, "data_subject_request_extended")).filter((m) => m.to_email === r.email);
    expect(mail!.payload).toMatchObject({ requestKind: "access", reason: "We hold records for you in three archives; gathering them takes time." });
    expect(mail!.payload.dueOn).toMatch(/\d{4}/);
    const [audit] = await app.db.admin`select details from audit_log where tenant_id = ${t.tenantId} and action = 'data_subject_request.extended'`;
    expect(audit!.details).toMatchObject({ from: first.toISOString(), months: 2 });
  });

  it("takes one month when asked, and only once", async () => {
    const r = await requestOf(t.owner, "objection");
    const once = await extend(t.owner, r.id, "Many requests this week", 1);
    expect(once.__typename).toBe("DataSubjectRequest");
    const twice = await extend(t.owner, r.id, "Still busy", 1);
    expect(twice).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "id"], message: expect.stringMatching(/extended already/) }] });
  });

  it("refuses erasure, a final request, a passed deadline, a missing reason and three months, changing nothing", async () => {
    const erasure = await requestOf(t.owner, "erasure");
    expect(await extend(t.owner, erasure.id, "Busy")).toMatchObject({ __typename: "ValidationError", message: expect.stringMatching(/seven working days/) });

    const closed = await requestOf(t.owner, "access");
    await t.owner.request(UpdateDataSubjectRequestDocument, { input: { id: closed.id, state: "cancelled", outcome: "Withdrawn by the person" } });
    expect(await extend(t.owner, closed.id, "Busy")).toMatchObject({ __typename: "ValidationError", message: expect.stringMatching(/final/) });

    const late = await requestOf(t.owner, "portability");
    // Back-dated by hand, as the superuser (the only one the deadline's trigger lets rewrite it).
    await app.db.admin`update data_subject_requests set received_at = now() - interval '40 days', deadline_at = now() - interval '9 days' where id = ${fromGlobal(late.id)}`;
    expect(await extend(t.owner, late.id, "Busy")).toMatchObject({ __typename: "ValidationError", message: expect.stringMatching(/deadline has passed/) });

    const open = await requestOf(t.owner, "restriction");
    expect(await extend(t.owner, open.id, "   ")).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "reason"] }] });
    expect(await extend(t.owner, open.id, "Busy", 3)).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "months"] }] });
    expect(await extend(t.owner, open.id, "a\u0000b")).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "reason"] }] });
    const [row] = await app.db.admin`select deadline_at, extended_at from data_subject_requests where id = ${fromGlobal(open.id)}`;
    expect(row!.extended_at).toBeNull();
    expect(row!.deadline_at.toISOString()).toBe(new Date(open.deadlineAt).toISOString());
  });

  it("is NotFound for another tenant's request, and needs privacy:manage", async () => {
    const r = await requestOf(t.owner, "access");
    expect(await extend(other.owner, r.id, "Busy")).toMatchObject({ __typename: "NotFoundError" });
    const reader = await createKey(app, t.owner, ["read", "issue", "analytics", "export", "admin"]);
    const error = await extend(reader.client, r.id, "Busy").then(() => null, (e: unknown) => e);
    expect((error as LaurelRequestError).code).toBe("FORBIDDEN");
    const privacy = await createKey(app, t.owner, ["privacy"]);
    expect((await extend(privacy.client, r.id, "Busy")).__typename).toBe("DataSubjectRequest");
  });

  it("is held by the database: no runtime role may move a deadline any other way", async () => {
    const r = await requestOf(t.owner, "access");
    const id = fromGlobal(r.id);
    const asMember = (work: string) =>
      app.db.admin.begin(async (tx) => {
        await tx.unsafe(`set local role ${app.config.roles.member}`);
        await tx`select set_config('app.tenant_id', ${t.tenantId}, true)`;
        return tx.unsafe(work, [id]);
      });
    await expect(asMember(`update data_subject_requests set deadline_at = deadline_at + interval '1 year' where id = $1`)).rejects.toMatchObject({ code: "LRDLN" });
    await expect(
      asMember(`update data_subject_requests set deadline_at = deadline_at + interval '6 months', original_deadline_at = deadline_at, extended_at = now(), extension_reason = 'x' where id = $1`),
    ).rejects.toMatchObject({ code: "LRDLN" });
    await expect(asMember(`update data_subject_requests set deadline_at = deadline_at - interval '1 day' where id = $1`)).rejects.toMatchObject({ code: "LRDLN" });
  });
});

function fromGlobal(id: string): string {
  return Buffer.from(id, "base64").toString("utf8").split(":").slice(1).join(":");
}
