// A KEK rotation re-wraps the tenants' data keys so the old KEK can go; the start-up check refuses a
// deployment missing a KEK that still wraps a live data key; legacy plain-text rows get sealed.
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseKeks } from "../../src/config.js";
import { withTenantTransaction } from "../../src/db/tenant-transaction.js";
import { checkSealedSecrets } from "../../src/startup.js";
import { sealRecipient, withPersonal, SEALED_RECIPIENT } from "../../src/modules/recipients/personal.js";
import { keyMaintenance } from "../../src/modules/vault/maintenance.js";
import { Vault, tenantKeys } from "../../src/modules/vault/vault.js";
import { attachVault } from "../../src/modules/vault/vault.js";
import { TEST_KEKS } from "../helpers/env.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, uniqueEmail } from "../helpers/factories.js";

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({}, { worker: false });
});
afterAll(async () => app?.close());

const claims = (tenantId: string) => ({ dbRole: app.config.roles.member, tenantId, userId: null });
const owner = { query: (text: string, values?: unknown[]) => app.db.admin.begin(async (tx) => {
  await tx.unsafe(`set local role "${app.config.roles.owner}"`);
  return { rows: await tx.unsafe(text, values as never[]) };
}) };

describe("KEK rotation", () => {
  it("re-wraps every data key under the new KEK; afterwards the old KEK is not needed", async () => {
    const t = await signUpTenant(app);
    const email = uniqueEmail("kek");
    await withTenantTransaction(app.database, claims(t.tenantId), async (db) => {
      const keys = await tenantKeys(db, t.tenantId);
      const id = randomUUID();
      const sealed = sealRecipient(keys, id, { email, name: "Kek Person", attributes: {} });
      await db.recipient.create({ data: { tenantId: t.tenantId, id, ...sealed } });
    });
    const both = parseKeks(`2:${randomBytes(32).toString("base64")},${TEST_KEKS}`);
    // Before the re-wrap, a deployment with only the new KEK must refuse to start.
    await expect(checkSealedSecrets(app.db.adminUrl, app.config.roles.owner, new Map([[2, both.get(2)!]]))).rejects.toThrow(/data key/);

    const totals = await keyMaintenance({ config: { ...app.config, keks: both }, database: app.database }, owner);
    expect(totals.rewrapped).toBeGreaterThanOrEqual(2); // at least this tenant's data and index keys
    const rows = await app.db.admin`select distinct kek_version from tenant_data_keys where retired_at is null`;
    expect(rows.map((r) => r.kek_version)).toEqual([2]);

    const onlyNew = new Map([[2, both.get(2)!]]);
    // Signing keys and webhook secrets were re-sealed too: nothing needs the old KEK any more.
    const [signing] = await app.db.admin`select count(*)::int as n from signing_keys where retired_at is null and kek_version <> 2`;
    expect(signing!.n).toBe(0);
    await expect(checkSealedSecrets(app.db.adminUrl, app.config.roles.owner, onlyNew)).resolves.not.toThrow();
    const vault = new Vault(onlyNew);
    attachVault(app.database.prisma, vault);
    try {
      const opened = await withTenantTransaction(app.database, claims(t.tenantId), async (db) =>
        withPersonal(db, t.tenantId, await db.recipient.findMany({ where: { tenantId: t.tenantId }, select: SEALED_RECIPIENT })));
      expect(opened.map((r) => r.email)).toEqual([email]);
    } finally {
      attachVault(app.database.prisma, app.database.vault);
    }
  });
});

describe("the legacy pass", () => {
  it("seals rows written before sealing, with indexes that find them, and empties the legacy columns", async () => {
    const t = await signUpTenant(app);
    const id = randomUUID();
    await app.db.admin`insert into recipients (tenant_id, id, legacy_email, legacy_name, legacy_attributes)
                       values (${t.tenantId}, ${id}, 'old.timer@example.test', 'Old Timer', ${app.db.admin.json({ since: 2019 })})`;
    const totals = await keyMaintenance({ config: app.config, database: app.database }, owner);
    expect(totals.legacySealed).toBeGreaterThanOrEqual(1);
    const [row] = await app.db.admin`select key_version, legacy_email, legacy_name, legacy_attributes, email_sealed is not null as sealed
                                     from recipients where tenant_id = ${t.tenantId} and id = ${id}`;
    expect(row).toMatchObject({ key_version: 1, legacy_email: null, legacy_name: null, legacy_attributes: null, sealed: true });
    const found = await withTenantTransaction(app.database, claims(t.tenantId), async (db) => {
      const keys = await tenantKeys(db, t.tenantId);
      const rows = await db.recipient.findMany({
        where: { tenantId: t.tenantId, emailIndex: keys.blindIndex("email", "old.timer@example.test") },
        select: SEALED_RECIPIENT,
      });
      return withPersonal(db, t.tenantId, rows);
    });
    const words = await withTenantTransaction(app.database, claims(t.tenantId), async (db) => (await tenantKeys(db, t.tenantId)).nameWordIndexes("Old Timer").map((w) => Buffer.from(w).toString("hex")));
    const named = await app.db.admin`select count(*)::int as n from recipients where id = ${id}
                                      and name_words @> array[decode(${words[0]!}, 'hex'), decode(${words[1]!}, 'hex')] and array_length(name_words, 1) = 2`;
    expect(named[0]!.n).toBe(1); // whole-word search finds the sealed legacy row
    expect(found.map((r) => [r.id, r.email, r.name, r.attributes])).toEqual([[id, "old.timer@example.test", "Old Timer", { since: 2019 }]]);
  });
});
