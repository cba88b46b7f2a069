// People's rights requests through the SDK: filing each kind with its deadline, moving a request
// through its states, the overdue list, the tenant's holidays, and who may do any of it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AcceptInvitationDocument,
  CreateApiKeyDocument,
  CreateRecipientDocument,
  DataSubjectRequestsDocument,
  FileDataSubjectRequestDocument,
  InviteMemberDocument,
  NodeDocument,
  SetTenantHolidaysDocument,
  TenantHolidaysDocument,
  UpdateDataSubjectRequestDocument,
  UpdateTenantDocument,
  type ApiKeyScope,
  type DataSubjectRequestKind,
  type FileDataSubjectRequestInput,
  type MemberRole,
} from "../../src/sdk/generated.js";
import { LaurelRequestError, type LaurelClient } from "../../src/sdk/index.js";
import { requestDeadline, workingDaysLeft } from "../../src/modules/privacy/deadlines.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createKey, signUpTenant, uniqueEmail, type TestTenant } from "../helpers/factories.js";
import { tokenSentTo } from "../helpers/sealed.js";

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => app.close());

const KINDS: DataSubjectRequestKind[] = ["access", "portability", "rectification", "erasure", "restriction", "objection", "consent_withdrawal"];
const checked = { method: "document_checked" as const, note: "Passport seen by the registrar" };

async function recipient(client: LaurelClient, email = uniqueEmail("person")): Promise<{ id: string; email: string }> {
  const { createRecipient } = await client.request(CreateRecipientDocument, { input: { email, name: "Ada Person" } });
  if (createRecipient.__typename !== "Recipient") throw new Error(JSON.stringify(createRecipient));
  return { id: createRecipient.id, email: createRecipient.email! };
}

async function file(client: LaurelClient, input: FileDataSubjectRequestInput) {
  return (await client.request(FileDataSubjectRequestDocument, { input })).fileDataSubjectRequest;
}

async function filed(client: LaurelClient, input: FileDataSubjectRequestInput) {
  const result = await file(client, input);
  if (result.__typename !== "DataSubjectRequest") throw new Error(JSON.stringify(result));
  return result;
}

async function errorCode(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(error, "expected a request error").toBeInstanceOf(LaurelRequestError);
  return (error as LaurelRequestError).code;
}

async function list(client: LaurelClient, filter: Record<string, unknown> = {}) {
  const { tenant } = await client.request(DataSubjectRequestsDocument, { first: 100, filter });
  return tenant.dataSubjectRequests!;
}

/** A member with `role`, through a real invitation accepted as a new account. */
async function member(t: TestTenant, role: MemberRole): Promise<LaurelClient> {
  const email = uniqueEmail(role);
  await t.owner.request(InviteMemberDocument, { input: { email, role } });
  const token = await tokenSentTo(app, email, t.tenantId);
  const accepted = await app.client().request(AcceptInvitationDocument, { input: { token, name: role, password: "a long enough password" } });
  if (accepted.acceptInvitation.__typename !== "AcceptInvitationPayload") throw new Error(JSON.stringify(accepted));
  return app.client(accepted.acceptInvitation.token!);
}

describe("filing a request", () => {
  let t: TestTenant;
  beforeAll(async () => {
    t = await signUpTenant(app, "Filing College");
  });

  it("records each kind, open and filed by staff, with the deadline its kind and the tenant's calendar give", async () => {
    const person = await recipient(t.owner);
    for (const kind of KINDS) {
      // A rectification carries the correction it asks for (sql/036).
      const asked = kind === "rectification" ? { requestedChanges: { name: "Corrected Name" } } : {};
      const request = await filed(t.owner, { kind, recipientId: person.id, identityVerification: checked, ...asked });
      expect(request).toMatchObject({ kind, state: "open", filedBy: "staff", completedAt: null, overdue: false, recipient: { id: person.id } });
      expect(request.identityVerification).toEqual(checked);
      const expected = requestDeadline(kind, new Date(request.receivedAt), "UTC", new Set());
      expect(request.deadlineAt, kind).toBe(expected.toISOString());
      expect(request.workingDaysLeft).toBe(kind === "erasure" ? workingDaysLeft(expected, new Date(), "UTC", new Set()) : null);
      const [row] = await app.db.admin`select deadline_at, received_at, filed_by_user_id from data_subject_requests where id = ${decodeId(request.id)}`;
      expect(row!.deadline_at.toISOString()).toBe(expected.toISOString());
      expect(row!.filed_by_user_id).toBe(t.userId);
    }
    const [audit] = await app.db.admin<{ n: number }[]>`
      select count(*)::int as n from audit_log where tenant_id = ${t.tenantId} and action = 'data_subject_request.filed'`;
    expect(audit!.n).toBe(KINDS.length);
  });

  it("computes an erasure deadline in the tenant's zone, skipping its holidays", async () => {
    const tenant = await signUpTenant(app, "Kolkata Institute");
    await tenant.owner.request(UpdateTenantDocument, { input: { timeZone: "Asia/Kolkata" } });
    const today = new Date();
    const days = [1, 2, 3, 4].map((n) => new Date(today.getTime() + n * 86_400_000).toISOString().slice(0, 10));
    const set = await tenant.owner.request(SetTenantHolidaysDocument, { input: { days: days.map((date, i) => ({ date, name: `Festival ${i}` })) } });
    expect(set.setTenantHolidays.__typename).toBe("SetTenantHolidaysPayload");
    const person = await recipient(tenant.owner);
    const request = await filed(tenant.owner, { kind: "erasure", recipientId: person.id, identityVerification: checked });
    const holidays = new Set(days);
    expect(request.deadlineAt).toBe(requestDeadline("erasure", new Date(request.receivedAt), "Asia/Kolkata", holidays).toISOString());
    expect(request.deadlineAt).not.toBe(requestDeadline("erasure", new Date(request.receivedAt), "Asia/Kolkata", new Set()).toISOString());
    expect(request.workingDaysLeft).toBe(workingDaysLeft(new Date(request.deadlineAt), new Date(), "Asia/Kolkata", holidays));
  });

  it("finds the person by email, normalised as everywhere in Laurel", async () => {
    const person = await recipient(t.owner, `ada-${Date.now()}@Bücher.example`);
    expect(person.email).toMatch(/@xn--bcher-kva\.example$/);
    const request = await filed(t.owner, { kind: "access", email: `  ${person.email.replace("ada", "ADA").replace("xn--bcher-kva", "Bücher")} `, identityVerification: checked });
    expect(request.recipient?.id).toBe(person.id);
  });

  it("answers typed errors for an unknown person, neither or both ways to name them, and bad identity notes", async () => {
    const person = await recipient(t.owner);
    const idv = checked;
    expect(await file(t.owner, { kind: "access", email: uniqueEmail("nobody"), identityVerification: idv })).toMatchObject({ __typename: "NotFoundError", resource: "Recipient" });
    expect(await file(t.owner, { kind: "access", identityVerification: idv })).toMatchObject({ __typename: "ValidationError" });
    expect(await file(t.owner, { kind: "access", recipientId: person.id, email: person.email, identityVerification: idv })).toMatchObject({ __typename: "ValidationError" });
    const long = await file(t.owner, { kind: "access", recipientId: person.id, identityVerification: { method: "known_contact", note: "x".repeat(1001) } });
    expect(long).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "identityVerification", "note"] }] });
    const other = await file(t.owner, { kind: "access", recipientId: person.id, identityVerification: { method: "other" } });
    expect(other).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "identityVerification", "note"] }] });
    // A global id of another type, or of no row, is NotFound; one that is no global id at all is refused before anything runs.
    expect(await file(t.owner, { kind: "access", recipientId: encodeId("Template", decodeId(person.id)), identityVerification: idv })).toMatchObject({ __typename: "NotFoundError" });
    expect(await file(t.owner, { kind: "access", recipientId: encodeId("Recipient", "not-a-uuid"), identityVerification: idv })).toMatchObject({ __typename: "NotFoundError" });
    expect(await errorCode(file(t.owner, { kind: "access", recipientId: "bm9wZQ==", identityVerification: idv }))).toBe("BAD_USER_INPUT");
    expect(await errorCode(file(t.owner, { kind: "access", email: "not an address", identityVerification: idv }))).toBe("BAD_USER_INPUT");
    const [n] = await app.db.admin<{ n: number }[]>`select count(*)::int as n from data_subject_requests where tenant_id = ${t.tenantId} and recipient_id = ${decodeId(person.id)}`;
    expect(n!.n).toBe(0);
  });
});

describe("a request's states", () => {
  let t: TestTenant;
  let personId: string;
  beforeAll(async () => {
    t = await signUpTenant(app, "States University");
    personId = (await recipient(t.owner)).id;
  });
  const update = async (id: string, state: "open" | "in_progress" | "completed" | "refused" | "cancelled", outcome?: string) =>
    (await t.owner.request(UpdateDataSubjectRequestDocument, { input: { id, state, outcome } })).updateDataSubjectRequest;

  it("go open, in progress, then a final state with its completedAt; never completed by hand, which would say a right was honoured when nothing was done", async () => {
    for (const kind of ["erasure", "access", "rectification", "objection"] as const) {
      const request = await filed(t.owner, { kind, recipientId: personId, identityVerification: checked, ...(kind === "rectification" ? { requestedChanges: { name: "Right Name" } } : {}) });
      expect(await update(request.id, "completed", "Done")).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "state"], message: expect.stringMatching(/carryOutDataSubjectRequest/) }] });
    }
    const request = await filed(t.owner, { kind: "erasure", recipientId: personId, identityVerification: checked });
    expect(await update(request.id, "in_progress")).toMatchObject({ state: "in_progress", completedAt: null });
    expect(await update(request.id, "completed", "Erased from every table")).toMatchObject({ __typename: "ValidationError" });
    const done = await update(request.id, "refused", "The person is a party to an ongoing legal claim (Art. 17(3)(e))");
    expect(done).toMatchObject({ state: "refused", workingDaysLeft: null, overdue: false });
    if (done.__typename !== "DataSubjectRequest") throw new Error("unreachable");
    expect(Date.now() - new Date(done.completedAt!).getTime()).toBeLessThan(60_000);
    for (const state of ["open", "in_progress", "refused", "cancelled", "completed"] as const) {
      expect(await update(request.id, state, "again"), state).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "state"] }] });
    }
  });

  it("refuse only with reasons, never go back to open, and cancelled is final too", async () => {
    const a = await filed(t.owner, { kind: "objection", recipientId: personId, identityVerification: checked });
    expect(await update(a.id, "open")).toMatchObject({ __typename: "ValidationError" });
    expect(await update(a.id, "refused")).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "outcome"] }] });
    expect(await update(a.id, "refused", "y".repeat(2001))).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "outcome"] }] });
    expect(await update(a.id, "refused", "Compelling legitimate grounds: exam records must be kept")).toMatchObject({ state: "refused" });
    const b = await filed(t.owner, { kind: "access", recipientId: personId, identityVerification: checked });
    expect(await update(b.id, "in_progress")).toMatchObject({ state: "in_progress" });
    expect(await update(b.id, "open")).toMatchObject({ __typename: "ValidationError" });
    expect(await update(b.id, "cancelled", "Withdrawn by the person")).toMatchObject({ state: "cancelled" });
    expect(await update(b.id, "in_progress")).toMatchObject({ __typename: "ValidationError" });
    const [audit] = await app.db.admin<{ n: number }[]>`
      select count(*)::int as n from audit_log where tenant_id = ${t.tenantId} and action = 'data_subject_request.updated' and target_id = ${decodeId(b.id)}`;
    expect(audit!.n).toBe(2);
  });

  it("of an unknown id are NotFound", async () => {
    expect(await update(encodeId("DataSubjectRequest", "00000000-0000-4000-8000-000000000000"), "completed")).toMatchObject({ __typename: "NotFoundError" });
    expect(await update(personId, "completed")).toMatchObject({ __typename: "NotFoundError" });
  });
});

describe("the list", () => {
  it("shows requests newest first, filters by state and kind, and lists as overdue only pending requests past their deadline", async () => {
    const t = await signUpTenant(app, "Overdue Academy");
    const person = await recipient(t.owner);
    const late = await filed(t.owner, { kind: "erasure", recipientId: person.id, identityVerification: checked });
    const lateAccess = await filed(t.owner, { kind: "access", recipientId: person.id, identityVerification: checked });
    const onTime = await filed(t.owner, { kind: "erasure", recipientId: person.id, identityVerification: checked });
    // Received 40 days ago, so both deadlines have passed.
    for (const r of [late, lateAccess]) {
      await app.db.admin`update data_subject_requests set received_at = now() - interval '40 days', deadline_at = now() - interval '1 day' where id = ${decodeId(r.id)}`;
    }
    const all = await list(t.owner);
    expect(all.totalCount).toBe(3);
    expect(all.edges.map((e) => e.node.id)).toEqual([onTime.id, lateAccess.id, late.id]);
    const overdue = await list(t.owner, { overdue: true });
    expect(overdue.edges.map((e) => e.node.id)).toEqual([lateAccess.id, late.id]);
    expect(overdue.edges.every((e) => e.node.overdue)).toBe(true);
    expect(overdue.edges.find((e) => e.node.id === late.id)!.node.workingDaysLeft).toBe(0);
    expect((await list(t.owner, { overdue: false })).edges.map((e) => e.node.id)).toEqual([onTime.id]);
    expect((await list(t.owner, { overdue: true, kind: "access" })).edges.map((e) => e.node.id)).toEqual([lateAccess.id]);

    await t.owner.request(UpdateDataSubjectRequestDocument, { input: { id: late.id, state: "cancelled", outcome: "Withdrawn by the person" } });
    expect((await list(t.owner, { overdue: true })).edges.map((e) => e.node.id)).toEqual([lateAccess.id]);
    expect((await list(t.owner, { state: "cancelled" })).edges.map((e) => ({ id: e.node.id, overdue: e.node.overdue }))).toEqual([{ id: late.id, overdue: false }]);
    expect((await list(t.owner, { state: "open", kind: "erasure" })).edges.map((e) => e.node.id)).toEqual([onTime.id]);

    const page = await t.owner.request(DataSubjectRequestsDocument, { first: 2 });
    const next = await t.owner.request(DataSubjectRequestsDocument, { first: 2, after: page.tenant.dataSubjectRequests!.pageInfo.endCursor });
    expect(next.tenant.dataSubjectRequests!.edges.map((e) => e.node.id)).toEqual([late.id]);
  });

  it("reads the tenant's calendar once however many erasure requests it shows", async () => {
    const t = await signUpTenant(app, "Many Requests College");
    const person = await recipient(t.owner);
    for (let i = 0; i < 5; i++) await filed(t.owner, { kind: "erasure", recipientId: person.id, identityVerification: checked });
    app.queries.length = 0;
    const shown = await list(t.owner);
    expect(shown.edges.every((e) => typeof e.node.workingDaysLeft === "number")).toBe(true);
    expect(app.queries.filter((q) => q.includes("tenant_holidays")).length).toBe(1);
  });
});

describe("another tenant", () => {
  it("cannot file for my recipient, move my request, see it in its list or through node()", async () => {
    const mine = await signUpTenant(app, "Mine University");
    const theirs = await signUpTenant(app, "Theirs University");
    const person = await recipient(mine.owner);
    const request = await filed(mine.owner, { kind: "erasure", recipientId: person.id, identityVerification: checked });
    await filed(theirs.owner, { kind: "access", recipientId: (await recipient(theirs.owner)).id, identityVerification: checked });

    expect(await file(theirs.owner, { kind: "erasure", recipientId: person.id, identityVerification: checked })).toMatchObject({ __typename: "NotFoundError", resource: "Recipient" });
    expect(await file(theirs.owner, { kind: "erasure", email: person.email, identityVerification: checked })).toMatchObject({ __typename: "NotFoundError", resource: "Recipient" });
    const moved = await theirs.owner.request(UpdateDataSubjectRequestDocument, { input: { id: request.id, state: "cancelled" } });
    expect(moved.updateDataSubjectRequest).toMatchObject({ __typename: "NotFoundError", resource: "DataSubjectRequest" });
    const theirList = await list(theirs.owner);
    expect(theirList.totalCount).toBe(1);
    expect(theirList.edges.map((e) => e.node.id)).not.toContain(request.id);
    expect((await theirs.owner.request(NodeDocument, { id: request.id })).node).toBeNull();
    expect((await list(mine.owner)).edges.map((e) => e.node.id)).toEqual([request.id]);
  });
});

describe("who may", () => {
  let t: TestTenant;
  let personId: string;
  let requestId: string;
  beforeAll(async () => {
    t = await signUpTenant(app, "Roles Polytechnic");
    personId = (await recipient(t.owner)).id;
    requestId = (await filed(t.owner, { kind: "access", recipientId: personId, identityVerification: checked })).id;
  });

  const everything = (client: LaurelClient) => [
    () => file(client, { kind: "erasure", recipientId: personId, identityVerification: checked }),
    () => client.request(UpdateDataSubjectRequestDocument, { input: { id: requestId, state: "in_progress" } }),
    () => list(client),
    () => client.request(SetTenantHolidaysDocument, { input: { days: [] } }),
    () => client.request(TenantHolidaysDocument),
  ];

  it.each(["issuer", "analyst", "viewer"] as MemberRole[])("as %s: FORBIDDEN everywhere", async (role) => {
    const client = await member(t, role);
    for (const attempt of everything(client)) expect(await errorCode(attempt())).toBe("FORBIDDEN");
  });

  it("as admin: everything, and it may give a key the privacy scope", async () => {
    const admin = await member(t, "admin");
    expect((await file(admin, { kind: "rectification", recipientId: personId, identityVerification: checked, requestedChanges: { name: "Corrected Name" } })).__typename).toBe("DataSubjectRequest");
    expect((await list(admin)).totalCount).toBeGreaterThanOrEqual(2);
    expect((await admin.request(SetTenantHolidaysDocument, { input: { days: [{ date: "2026-12-25", name: "Christmas Day" }] } })).setTenantHolidays.__typename).toBe("SetTenantHolidaysPayload");
    const key = await createKey(app, admin, ["privacy"]);
    expect((await list(key.client)).totalCount).toBeGreaterThanOrEqual(2);
  });

  it("as a key scoped privacy: everything; the filer is the key", async () => {
    const key = await createKey(app, t.owner, ["privacy"]);
    const request = await filed(key.client, { kind: "restriction", recipientId: personId, identityVerification: { method: "email_link" } });
    const [row] = await app.db.admin`select filed_by_api_key_id, filed_by_user_id from data_subject_requests where id = ${decodeId(request.id)}`;
    expect(row).toEqual({ filed_by_api_key_id: decodeId(key.id), filed_by_user_id: null });
    expect((await key.client.request(TenantHolidaysDocument)).tenant.holidays).toEqual(expect.any(Array));
  });

  it.each(["read", "issue", "analytics", "export", "admin"] as ApiKeyScope[])("as a key scoped %s: FORBIDDEN everywhere", async (scope) => {
    const key = await createKey(app, t.owner, [scope]);
    for (const attempt of everything(key.client)) expect(await errorCode(attempt())).toBe("FORBIDDEN");
  });

  it("no key or member without privacy:manage can hand it out", async () => {
    const adminKey = await createKey(app, t.owner, ["admin"]);
    expect(await errorCode(adminKey.client.request(CreateApiKeyDocument, { input: { name: "more", scopes: ["privacy"] } }))).toBe("FORBIDDEN");
    expect(await errorCode(adminKey.client.request(InviteMemberDocument, { input: { email: uniqueEmail("x"), role: "admin" } }))).toBe("FORBIDDEN");
    const issuer = await member(t, "issuer");
    expect(await errorCode(issuer.request(CreateApiKeyDocument, { input: { name: "more", scopes: ["privacy"] } }))).toBe("FORBIDDEN");
  });
});

describe("the tenant's holidays", () => {
  it("are replaced as a whole and read back in date order", async () => {
    const t = await signUpTenant(app, "Holiday School");
    const set = await t.owner.request(SetTenantHolidaysDocument, {
      input: { days: [{ date: "2026-12-26", name: "Boxing Day" }, { date: " 2026-12-25 ", name: "Christmas Day" }] },
    });
    expect(set.setTenantHolidays).toMatchObject({ holidays: [{ date: "2026-12-25", name: "Christmas Day" }, { date: "2026-12-26", name: "Boxing Day" }] });
    await t.owner.request(SetTenantHolidaysDocument, { input: { days: [{ date: "2027-01-01", name: "New Year's Day" }] } });
    expect((await t.owner.request(TenantHolidaysDocument)).tenant.holidays).toEqual([{ date: "2027-01-01", name: "New Year's Day" }]);
    await t.owner.request(SetTenantHolidaysDocument, { input: { days: [] } });
    expect((await t.owner.request(TenantHolidaysDocument)).tenant.holidays).toEqual([]);
  });

  it("refuse impossible dates, repeats, empty names and more than 100, with typed errors and nothing changed", async () => {
    const t = await signUpTenant(app, "Strict Calendar College");
    await t.owner.request(SetTenantHolidaysDocument, { input: { days: [{ date: "2026-05-01", name: "Labour Day" }] } });
    const bad = async (days: { date: string; name: string }[]) => (await t.owner.request(SetTenantHolidaysDocument, { input: { days } })).setTenantHolidays;
    expect(await bad([{ date: "2026-01-01", name: "ok" }, { date: "2026-02-30", name: "Nope" }])).toMatchObject({
      __typename: "ValidationError",
      fieldErrors: [{ path: ["input", "days", "1", "date"] }],
    });
    for (const date of ["2026-13-01", "26-12-25", "2026-12-25T00:00:00Z", "", "0000-01-01", "2026-02-29"]) {
      expect(await bad([{ date, name: "x" }]), date).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "days", "0", "date"] }] });
    }
    expect(await bad([{ date: "2026-12-25", name: "a" }, { date: "2026-12-25", name: "b" }])).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "days", "1", "date"] }] });
    expect(await bad([{ date: "2026-12-25", name: "  " }])).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "days", "0", "name"] }] });
    expect(await bad([{ date: "2026-12-25", name: "n".repeat(101) }])).toMatchObject({ __typename: "ValidationError" });
    const many = Array.from({ length: 101 }, (_, i) => ({ date: new Date(Date.UTC(2027, 0, 1 + i)).toISOString().slice(0, 10), name: `Day ${i}` }));
    expect(await bad(many)).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["input", "days"] }] });
    expect((await bad(many.slice(0, 100))).__typename).toBe("SetTenantHolidaysPayload");
    await t.owner.request(SetTenantHolidaysDocument, { input: { days: [{ date: "2026-05-01", name: "Labour Day" }] } });
    expect(await bad([{ date: "2026-02-30", name: "Nope" }])).toMatchObject({ __typename: "ValidationError" });
    expect((await t.owner.request(TenantHolidaysDocument)).tenant.holidays).toEqual([{ date: "2026-05-01", name: "Labour Day" }]);
  });
});

function decodeId(globalId: string): string {
  return Buffer.from(globalId, "base64").toString("utf8").split(":").slice(1).join(":");
}
function encodeId(type: string, id: string): string {
  return Buffer.from(`${type}:${id}`).toString("base64");
}
