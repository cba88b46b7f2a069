// Data-key rotation without downtime: every sealed row ends under the new key with the same values,
// reads through the API never fail meanwhile (even from a process whose key cache predates the
// rotation), a rotation stopped half way resumes, and the old key's wrapped bytes are erased at the end.
import { SEALED_TABLES } from "../../src/modules/vault/registry.js";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../../src/db/database.js";
import { withTenantTransaction } from "../../src/db/tenant-transaction.js";
import { DataProtectionDocument, RecipientsDocument, RotateDataKeyDocument } from "../../src/sdk/generated.js";
import { sealRecipient } from "../../src/modules/recipients/personal.js";
import { tenantKeys } from "../../src/modules/vault/vault.js";
import { runRotation, startRotation, type RotationDeps } from "../../src/modules/vault/rotation.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, uniqueEmail, type TestTenant } from "../helpers/factories.js";

let app: TestApp;
let worker: Database; // another process's handle: its own vault, so the server's key cache goes stale
let deps: RotationDeps;
beforeAll(async () => {
  app = await startTestApp({}, { worker: false });
  worker = await openDatabase(app.config);
  deps = { sql: worker.sql, memberRole: app.config.roles.member, vault: worker.vault };
});
afterAll(async () => {
  await worker?.close();
  await app?.close();
});

async function tenantWithRecipients(n: number): Promise<{ t: TestTenant; people: { email: string; name: string }[] }> {
  const t = await signUpTenant(app);
  const people = Array.from({ length: n }, (_, i) => ({ email: uniqueEmail(`p${i}`), name: `Zelda Quill${i} Rotation` }));
  for (const p of people) await addRecipient(worker, t.tenantId, p);
  return { t, people };
}

/** Inserts a sealed recipient through `database`'s vault (the server's, or the worker's). */
async function addRecipient(database: Database, tenantId: string, p: { email: string; name: string }) {
  await withTenantTransaction(database, { dbRole: app.config.roles.member, tenantId, userId: null }, async (db) => {
    const keys = await tenantKeys(db, tenantId);
    const id = randomUUID();
    const sealed = sealRecipient(keys, id, { ...p, attributes: { cohort: "2026" } });
    await db.recipient.create({ data: { tenantId, id, ...sealed } });
  });
}

async function listed(t: TestTenant) {
  const { tenant } = await t.owner.request(RecipientsDocument, { first: 100 });
  return tenant.recipients!.edges.map((e) => ({ email: e.node.email!, name: e.node.name })).sort((a, b) => a.email.localeCompare(b.email));
}

function start(tenantId: string, vault = worker.vault) {
  return withTenantTransaction(worker, { dbRole: app.config.roles.member, tenantId, userId: null }, (db) => startRotation(db, vault, tenantId, { reason: "requested", activationDelayMs: 0 }));
}

describe("a data-key rotation", () => {
  it("re-seals every row under the new key while the API keeps reading, then erases the old key", async () => {
    const { t, people } = await tenantWithRecipients(25);
    const before = await listed(t); // the server's vault now caches version 1 only, for a minute
    await start(t.tenantId);

    let reads = 0;
    let rotating = true;
    const reader = (async () => {
      while (rotating) {
        expect(await listed(t)).toEqual(before);
        const { tenant } = await t.owner.request(RecipientsDocument, { first: 5, search: people[7]!.email });
        expect(tenant.recipients!.edges.map((e) => e.node.email)).toEqual([people[7]!.email]);
        reads++;
      }
    })();
    const first = await runRotation(deps, t.tenantId, { batchRows: 4, graceMs: 0, afterBatch: () => new Promise((r) => setTimeout(r, 20)) });
    rotating = false;
    await reader;
    expect(first.state).toBe("completed");
    expect(reads).toBeGreaterThan(0);

    const rows = await app.db.admin`select key_version, email_sealed from recipients where tenant_id = ${t.tenantId}`;
    expect(rows).toHaveLength(25);
    expect(rows.every((r) => r.key_version === 2 && r.email_sealed.readUInt32BE(1) === 2)).toBe(true);
    expect(await listed(t)).toEqual(before);
    const [old] = await app.db.admin`select retired_at, length(wrapped) as bytes from tenant_data_keys where tenant_id = ${t.tenantId} and purpose = 'data' and version = 1`;
    expect(old!.retired_at).not.toBeNull();
    expect(old!.bytes).toBe(0);
    const { dataProtection } = await t.owner.request(DataProtectionDocument);
    expect(dataProtection.currentKeyVersion).toBe(2);
    expect(dataProtection.liveKeyVersions).toEqual([2]);
    expect(dataProtection.lastRotation).toMatchObject({ state: "completed", fromVersion: 1, toVersion: 2, rowsTotal: 25 });
    // Every sealed table is visited; this tenant's rows are its 25 recipients (and nothing else sealed yet).
    const tables = dataProtection.lastRotation!.tables;
    expect(tables.find((x) => x.table === "recipients")).toEqual({ table: "recipients", done: 25, total: 25 });
    expect(tables.map((x) => x.table).sort()).toEqual([...SEALED_TABLES.map((e) => e.table)].sort());
    expect(tables.filter((x) => x.table !== "recipients").every((x) => x.done === x.total)).toBe(true);
  });

  it("stopped half way, resumes from what is left and completes", async () => {
    const { t } = await tenantWithRecipients(12);
    const before = await listed(t);
    await start(t.tenantId);
    const stop = new Error("worker killed");
    await expect(runRotation(deps, t.tenantId, { batchRows: 5, graceMs: 0, afterBatch: (n) => { if (n === 1) throw stop; } })).rejects.toBe(stop);
    const mixed = await app.db.admin`select key_version, count(*)::int as n from recipients where tenant_id = ${t.tenantId} group by 1 order by 1`;
    expect(mixed).toEqual([{ key_version: 1, n: 7 }, { key_version: 2, n: 5 }]);
    expect(await listed(t)).toEqual(before); // both keys open meanwhile

    let batches = 0;
    expect((await runRotation(deps, t.tenantId, { batchRows: 5, graceMs: 0, afterBatch: () => void batches++ })).state).toBe("completed");
    expect(batches).toBe(2); // the 7 rows left, not all 12 again
    const [row] = await app.db.admin`select count(*)::int as n from recipients where tenant_id = ${t.tenantId} and key_version = 2`;
    expect(row!.n).toBe(12);
    expect(await listed(t)).toEqual(before);
  });

  it("keeps the old key until a final pass after the cache window has re-sealed what stale processes wrote", async () => {
    const { t } = await tenantWithRecipients(3);
    await listed(t); // the server caches version 1
    await start(t.tenantId);
    expect((await runRotation(deps, t.tenantId, { graceMs: 60_000 })).state).toBe("waiting");
    // The server still seals under version 1 (its cache predates the rotation).
    const late = { email: uniqueEmail("late"), name: "Late Writer" };
    await addRecipient(app.database, t.tenantId, late);
    const [row] = await app.db.admin`select key_version from recipients where tenant_id = ${t.tenantId} order by created_at desc limit 1`;
    expect(row!.key_version).toBe(1);
    const [live] = await app.db.admin`select retired_at from tenant_data_keys where tenant_id = ${t.tenantId} and purpose = 'data' and version = 1`;
    expect(live!.retired_at).toBeNull();

    expect((await runRotation(deps, t.tenantId, { graceMs: 0 })).state).toBe("completed");
    const versions = await app.db.admin`select distinct key_version from recipients where tenant_id = ${t.tenantId}`;
    expect(versions.map((v) => v.key_version)).toEqual([2]);
    expect((await listed(t)).map((p) => p.email)).toContain(late.email);
  });
});

describe("a new data key's activation (sql/053)", () => {
  it("seals nothing under the new key before it is active, and the re-seal waits for it; progress never passes 100%", async () => {
    const { t } = await tenantWithRecipients(3);
    await listed(t); // the server caches version 1 only
    await withTenantTransaction(worker, { dbRole: app.config.roles.member, tenantId: t.tenantId, userId: null }, (db) =>
      startRotation(db, worker.vault, t.tenantId, { reason: "requested", activationDelayMs: 1500 }));
    // The starting process has loaded version 2 (it opens with it) but still seals under version 1.
    const keys = await withTenantTransaction(worker, { dbRole: app.config.roles.member, tenantId: t.tenantId, userId: null }, (db) => tenantKeys(db, t.tenantId));
    expect(keys.versions).toEqual([1, 2]);
    expect(keys.current).toBe(1);
    const meanwhile = { email: uniqueEmail("meanwhile"), name: "Written Before Activation" };
    await addRecipient(worker, t.tenantId, meanwhile);
    const before = await app.db.admin`select key_version, count(*)::int as n from recipients where tenant_id = ${t.tenantId} group by 1`;
    expect(before).toEqual([{ key_version: 1, n: 4 }]);
    // The re-seal does not start before the activation either.
    const early = await runRotation(deps, t.tenantId, { graceMs: 0 });
    expect(early.state).toBe("waiting");
    const [key] = await app.db.admin`select activates_at from tenant_data_keys where tenant_id = ${t.tenantId} and purpose = 'data' and version = 2`;
    expect(early.state === "waiting" && early.nextRunAt.getTime()).toBe(key!.activates_at.getTime());
    expect((await app.db.admin`select count(*)::int as n from recipients where tenant_id = ${t.tenantId} and key_version = 2`)[0]!.n).toBe(0);
    // What owners see meanwhile: version 1 still seals; the rotation says when version 2 takes over.
    const pending = (await t.owner.request(DataProtectionDocument)).dataProtection;
    expect(pending.currentKeyVersion).toBe(1);
    expect(pending.liveKeyVersions).toEqual([1, 2]);
    expect(new Date(pending.lastRotation!.activatesAt!).getTime()).toBe(key!.activates_at.getTime());

    await new Promise((r) => setTimeout(r, Math.max(0, key!.activates_at.getTime() - Date.now()) + 200));
    expect((await runRotation(deps, t.tenantId, { graceMs: 0 })).state).toBe("completed");
    const after = await app.db.admin`select key_version, count(*)::int as n from recipients where tenant_id = ${t.tenantId} group by 1`;
    expect(after).toEqual([{ key_version: 2, n: 4 }]);
    expect((await listed(t)).map((p) => p.email)).toContain(meanwhile.email);
    const { dataProtection } = await t.owner.request(DataProtectionDocument);
    const last = dataProtection.lastRotation!;
    expect(last.rowsDone).toBe(4);
    expect(last.rowsTotal).toBe(4); // 3 counted at the start, counted again (4) when the key activated
    expect(dataProtection.currentKeyVersion).toBe(2);
    expect(last.tables.every((x) => x.done <= x.total)).toBe(true);
  });
});

describe("who may see and start rotations", () => {
  it("lets the owner rotate, and refuses API keys", async () => {
    const t = await signUpTenant(app);
    const { rotateDataKey } = await t.owner.request(RotateDataKeyDocument);
    expect(rotateDataKey).toMatchObject({ state: "running", fromVersion: 1, toVersion: 2, reason: "requested" });
    // A second request while one runs returns the same rotation.
    expect((await t.owner.request(RotateDataKeyDocument)).rotateDataKey.id).toBe(rotateDataKey.id);
    const [job] = await app.db.admin`select count(*)::int as n from graphile_worker.jobs where key = ${`${t.tenantId}:rotate_data_key`}`;
    expect(job!.n).toBe(1);
    const { createKey } = await import("../helpers/factories.js");
    const key = await createKey(app, t.owner, ["admin", "read", "privacy", "export", "issue", "analytics"]);
    await expect(key.client.request(RotateDataKeyDocument)).rejects.toMatchObject({ code: "FORBIDDEN" });
    // The admin scope may watch (versions and counts only); no other scope may.
    expect((await key.client.request(DataProtectionDocument)).dataProtection.lastRotation?.id).toBe(rotateDataKey.id);
    const narrow = await createKey(app, t.owner, ["read", "privacy", "export", "issue", "analytics"]);
    await expect(narrow.client.request(DataProtectionDocument)).rejects.toMatchObject({ code: "FORBIDDEN" });
  });
});
