// Export from one Laurel, import into a fresh one: the same credential documents are served at the same
// paths and verify there (status lists included, so a revocation survives), secrets do not travel (the
// webhook endpoint arrives disabled with a new secret, API keys revoked), and a tampered ZIP, an unknown
// key-encryption key or a second import of the same tenant is refused with nothing written.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import yazl from "yazl";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importTenant, TenantImportError } from "../../src/modules/tenant-export/import.js";
import type { TenantExportManifest } from "../../src/modules/tenant-export/task.js";
import { LogInDocument, RequestPasswordResetDocument, ResetPasswordDocument, ViewerDocument } from "../../src/sdk/generated.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { startFakeResend, type FakeResend } from "../helpers/fake-resend.js";
import { deliveryConfig, waitFor } from "../helpers/worker.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { TEST_ENV } from "../helpers/env.js";
import { createKey, signUpTenant, type TestTenant } from "../helpers/factories.js";
import { exportAndWait, seedSmallTenant, unzip, type IssuedCredential } from "./helpers.js";
import { unwrapKey, type KeyPurpose } from "../../src/modules/vault/data-keys.js";
import { openedCredentials, openedRecipients } from "../helpers/sealed.js";

const TARGET_KEK = Buffer.alloc(32, 22);
let source: TestApp;
let target: TestApp;
let spare: TestDatabase;
let fake: FakeResend;
let a: TestTenant;
let seeded: Awaited<ReturnType<typeof seedSmallTenant>>;
let zipPath: string;
let files: Map<string, Buffer>;
beforeAll(async () => {
  source = await startTestApp({}, { worker: {} });
  a = await signUpTenant(source, "Travelling College");
  seeded = await seedSmallTenant(a.owner);
  await createKey(source, a.owner, ["issue"]);
  const done = await exportAndWait(a.owner);
  const zip = Buffer.from(await (await fetch(done.download!.url.replace(/^https?:\/\/[^/]+/, source.server.url))).arrayBuffer());
  zipPath = path.join(await mkdtemp(path.join(os.tmpdir(), "laurel-import-")), "export.zip");
  await writeFile(zipPath, zip);
  files = await unzip(zip);
  // The new deployment answers at the same public URL once the issuer's host points at it.
  fake = await startFakeResend();
  // The new deployment holds the source's KEK (version 1) and a newer one of its own (version 2, current):
  // the import must re-wrap the tenant's data keys and re-seal its signing keys under version 2.
  target = await startTestApp({ ...deliveryConfig({ resendUrl: fake.url }), publicUrl: source.config.publicUrl, keks: new Map([...source.config.keks, [2, TARGET_KEK]]) }, { worker: false });
  spare = await createTestDatabase();
}, 90_000);
afterAll(async () => {
  await fake?.close();
  await source?.close();
  await target?.close();
  await spare?.drop();
});

const onTarget = (url: string) => url.replace(source.config.publicUrl, target.server.url);
const manifest = () => JSON.parse(files.get("manifest.json")!.toString()) as TenantExportManifest;

async function verifyOn(app: TestApp, credential: IssuedCredential) {
  const res = await fetch(`${app.server.url}/verify`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(credential.verifiableCredential) });
  expect(res.status).toBe(200);
  return (await res.json()) as { verified: boolean; status: { state: string }; proof: { ok: boolean } };
}

describe("importing a tenant into a fresh Laurel", () => {
  it("refuses a tampered ZIP and writes nothing", async () => {
    const tampered = new yazl.ZipFile();
    for (const [name, body] of files) {
      // Documents travel sealed: one changed hex digit of a sealed document is the tampering.
      const changed = name === "tables/credentials.ndjson" ? Buffer.from(body.toString().replace(/("document_sealed":"\\\\x)([0-9a-f])/, (_, p: string, d: string) => p + (d === "0" ? "1" : "0"))) : body;
      if (name === "tables/credentials.ndjson") expect(changed.equals(body)).toBe(false);
      tampered.addBuffer(changed, name);
    }
    tampered.end();
    const chunks: Buffer[] = [];
    for await (const c of tampered.outputStream) chunks.push(c as Buffer);
    const tamperedPath = zipPath.replace(/\.zip$/, "-tampered.zip");
    await writeFile(tamperedPath, Buffer.concat(chunks));
    const error = await importTenant({ adminUrl: spare.adminUrl, roles: target.config.roles, keks: target.config.keks, zipPath: tamperedPath }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TenantImportError);
    expect((error as Error).message).toMatch(/tables\/credentials\.ndjson: sha256 .* does not match/);
    expect(await spare.admin`select id from tenants where id = ${a.tenantId}`).toEqual([]);
  });

  it("refuses a manifest that names a table or column this Laurel does not export", async () => {
    for (const [label, edit] of [
      ["table", (m: TenantExportManifest) => (m.files[2]!.table = 'audit_log" (x) values (1); --')],
      ["column", (m: TenantExportManifest) => m.files[2]!.columns.push("secret_hash")],
    ] as const) {
      const m = manifest();
      edit(m);
      const zip = new yazl.ZipFile();
      for (const [name, body] of files) zip.addBuffer(name === "manifest.json" ? Buffer.from(JSON.stringify(m)) : body, name);
      zip.end();
      const chunks: Buffer[] = [];
      for await (const c of zip.outputStream) chunks.push(c as Buffer);
      const crafted = zipPath.replace(/\.zip$/, `-${label}.zip`);
      await writeFile(crafted, Buffer.concat(chunks));
      const error = await importTenant({ adminUrl: spare.adminUrl, roles: target.config.roles, keks: target.config.keks, zipPath: crafted }).catch((e: unknown) => e);
      expect((error as Error).message, label).toMatch(label === "table" ? /is not one this Laurel exports/ : /columns secret_hash do not exist here|do not exist/);
    }
    expect(await spare.admin`select id from tenants where id = ${a.tenantId}`).toEqual([]);
  });

  it("takes no account that no membership names, and no sender domain as verified, whatever a crafted ZIP says", async () => {
    const m = manifest();
    const crafted = new Map(files);
    const append = (table: string, row: Record<string, unknown>) => {
      const entry = m.files.find((f) => f.table === table)!;
      const body = Buffer.concat([crafted.get(entry.path)!, Buffer.from(`${JSON.stringify(row)}\n`)]);
      crafted.set(entry.path, body);
      entry.rows += 1;
      entry.bytes = body.length;
      entry.sha256 = createHash("sha256").update(body).digest("hex");
    };
    append("users", { id: "0190a3f0-0000-7000-8000-00000000beef", email: "ceo@victim-company.example", name: "Squatted", created_at: new Date().toISOString(), updated_at: new Date().toISOString() });
    append("sender_domains", { tenant_id: a.tenantId, id: "0190a3f0-0000-7000-8000-00000000d0d0", domain: "laurel.example", status: "verified", provider_domain_id: "d_fake", dns_records: [], verified_at: new Date().toISOString(), created_at: new Date().toISOString() });
    crafted.set("manifest.json", Buffer.from(JSON.stringify(m)));
    const zip = new yazl.ZipFile();
    for (const [name, body] of crafted) zip.addBuffer(body, name);
    zip.end();
    const chunks: Buffer[] = [];
    for await (const c of zip.outputStream) chunks.push(c as Buffer);
    const craftedPath = zipPath.replace(/\.zip$/, "-crafted.zip");
    await writeFile(craftedPath, Buffer.concat(chunks));
    const other = await createTestDatabase();
    try {
      await importTenant({ adminUrl: other.adminUrl, roles: target.config.roles, keks: target.config.keks, zipPath: craftedPath });
      expect(await other.admin`select 1 from users where email = 'ceo@victim-company.example'`).toEqual([]);
      expect((await other.admin`select count(*)::int as n from users`)[0]!.n).toBeGreaterThan(0); // the members came
      const [domain] = await other.admin`select status::text, verified_at from sender_domains where domain = 'laurel.example'`;
      expect(domain).toEqual({ status: "pending", verified_at: null });
    } finally {
      await other.drop();
    }
  });

  it("refuses when this deployment cannot open the signing keys, and writes nothing", async () => {
    const otherKeks = new Map([[7, Buffer.alloc(32, 7)]]);
    const error = await importTenant({ adminUrl: spare.adminUrl, roles: target.config.roles, keks: otherKeks, zipPath }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/key-encryption key version\(s\) 1/);
    expect(await spare.admin`select id from tenants where id = ${a.tenantId}`).toEqual([]);
  });

  it("refuses, naming the address, when a member's email already has another account here", async () => {
    const other = await createTestDatabase();
    try {
      await other.admin`select sign_up(${a.email}, 'Someone Else', '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaA', 'Elsewhere', 'elsewhere-org')`;
      const error = await importTenant({ adminUrl: other.adminUrl, roles: target.config.roles, keks: target.config.keks, zipPath }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TenantImportError);
      expect((error as Error).message).toBe(`an account with this address already exists here: ${a.email}. The import brings only new accounts: import into a Laurel where these people have no account yet`);
      expect(await other.admin`select id from tenants where id = ${a.tenantId}`).toEqual([]);
    } finally {
      await other.drop();
    }
  });

  it("restores every table's rows", async () => {
    const result = await importTenant({ adminUrl: target.db.adminUrl, roles: target.config.roles, keks: target.config.keks, zipPath });
    expect(result.tenantId).toBe(a.tenantId);
    expect(result.tables.find((t) => t.table === "tenant_data_keys")!.rows).toBeGreaterThanOrEqual(2);
    const expected = manifest().files.map((f) => ({ table: f.table, rows: f.rows }));
    expect(result.tables).toEqual(expected);
    for (const { table, rows } of expected) {
      if (table === "tenants" || table === "users") continue;
      const [row] = await target.db.admin.unsafe(`select count(*)::int as n from "${table}" where tenant_id = $1`, [a.tenantId]);
      expect({ table, rows: row!.n }).toEqual({ table, rows: table === "audit_log" ? rows + 1 : rows });
    }
  }, 60_000);

  it("re-wraps the tenant's data keys under its own current KEK, and the sealed people and documents open there as they did", async () => {
    const wrapped = async (app: TestApp) =>
      app.db.admin<{ purpose: KeyPurpose; version: number; kek_version: number; wrapped: Buffer }[]>`
        select purpose, version, kek_version, wrapped from tenant_data_keys where tenant_id = ${a.tenantId} and retired_at is null order by purpose, version`;
    const [before, after] = [await wrapped(source), await wrapped(target)];
    expect(after.map((k) => [k.purpose, k.version])).toEqual(before.map((k) => [k.purpose, k.version]));
    expect(before.every((k) => k.kek_version === 1)).toBe(true);
    expect(after.every((k) => k.kek_version === 2)).toBe(true);
    for (const [i, k] of after.entries()) expect(Buffer.compare(k.wrapped, before[i]!.wrapped)).not.toBe(0);
    // The source's KEK alone no longer opens them: the version-2 KEK is the one that does.
    expect(() => unwrapKey(source.config.keks, a.tenantId, after[0]!)).toThrow();
    expect(unwrapKey(target.config.keks, a.tenantId, after[0]!).equals(unwrapKey(source.config.keks, a.tenantId, before[0]!))).toBe(true);
    // The sealed rows came byte for byte, and open with the re-wrapped keys to the same people and documents.
    const people = await openedRecipients(target, a.tenantId);
    expect(people.map((p) => p.name).sort()).toEqual(["Ada Lovelace", "Grace Hopper", "Émilie du Châtelet"]);
    expect(people).toEqual(await openedRecipients(source, a.tenantId));
    const documents = async (app: TestApp) => (await openedCredentials(app, a.tenantId)).map((c) => ({ id: c.id, email: c.email, name: c.name, document: c.document }));
    const moved = await documents(target);
    expect(moved).toHaveLength(3);
    expect(moved.every((c) => c.document !== null)).toBe(true);
    expect(moved).toEqual(await documents(source));
  });

  it("lets its members, who arrive without passwords, choose one by email and sign in", async () => {
    const before = await target.client().request(LogInDocument, { input: { email: a.email, password: a.password } });
    expect(before.logIn.__typename).toBe("InvalidCredentialsError");
    const asked = await target.client().request(RequestPasswordResetDocument, { email: a.email });
    expect(asked.requestPasswordReset).toEqual({ __typename: "RequestPasswordResetPayload", expiresInMinutes: 60 });
    const mail = await waitFor(async () => fake.sent.find((m) => m.to.includes(a.email) && m.tags.some((t) => t.value === "password_reset")), "the password email");
    const token = /\/password-reset#(lrp_[A-Za-z0-9_-]+)/.exec(mail.text)![1]!;
    const reset = await target.client().request(ResetPasswordDocument, { input: { token, password: "a password for the new home" } });
    if (reset.resetPassword.__typename !== "ResetPasswordPayload") throw new Error(JSON.stringify(reset));
    expect(reset.resetPassword).toMatchObject({ userId: a.userId, tenantId: a.tenantId });
    const viewer = await target.client(reset.resetPassword.token).request(ViewerDocument);
    expect(viewer.viewer).toMatchObject({ role: "owner", tenant: { uuid: a.tenantId } });
    const after = await target.client().request(LogInDocument, { input: { email: a.email, password: "a password for the new home" } });
    expect(after.logIn).toMatchObject({ __typename: "SessionPayload", tenantId: a.tenantId });
  });

  it("serves the same documents at the same paths, and they verify there, revocation included", async () => {
    for (const credential of seeded.credentials) {
      const url = credential.verifiableCredential.id;
      const before = await (await fetch(url.replace(source.config.publicUrl, source.server.url), { headers: { accept: "application/json" } })).text();
      const after = await fetch(onTarget(url), { headers: { accept: "application/json" } });
      expect(after.status).toBe(200);
      expect(await after.text()).toBe(before);
      const report = await verifyOn(target, credential);
      expect(report.proof.ok).toBe(true);
      expect(report.status.state).toBe(credential.id === seeded.revoked.id ? "revoked" : "active");
      expect(report.verified).toBe(credential.id !== seeded.revoked.id);
    }
    const status = (seeded.revoked.verifiableCredential.credentialStatus as { statusListCredential: string }).statusListCredential;
    const list = await fetch(onTarget(status));
    expect(list.status).toBe(200);
    expect(await list.text()).toBe(await (await fetch(status.replace(source.config.publicUrl, source.server.url))).text());
  });

  it("brings webhook endpoints disabled with a secret of its own, and API keys revoked", async () => {
    const [endpoint] = await target.db.admin<{ enabled: boolean; disabled_reason: string; secret_sealed: Buffer }[]>`
      select enabled, disabled_reason, secret_sealed from webhook_endpoints where tenant_id = ${a.tenantId}`;
    expect(endpoint).toMatchObject({ enabled: false, disabled_reason: expect.stringMatching(/rotate the secret/) });
    const [original] = await source.db.admin<{ secret_sealed: Buffer }[]>`select secret_sealed from webhook_endpoints where tenant_id = ${a.tenantId}`;
    expect(Buffer.compare(endpoint!.secret_sealed, original!.secret_sealed)).not.toBe(0);
    const keys = await target.db.admin<{ revoked_at: Date | null }[]>`select revoked_at from api_keys where tenant_id = ${a.tenantId}`;
    expect(keys.length).toBe(1);
    expect(keys.every((k) => k.revoked_at !== null)).toBe(true);
    const [key] = await target.db.admin<{ kek_version: number }[]>`select kek_version from signing_keys where tenant_id = ${a.tenantId}`;
    expect(key!.kek_version).toBe(2); // re-sealed under the target's current KEK
  });

  it("runs as the operator's CLI: refuses a damaged ZIP with exit 1, imports a good one", async () => {
    const cli = fileURLToPath(new URL("../../src/modules/tenant-export/import-cli.ts", import.meta.url));
    const env = { ...process.env, ...TEST_ENV, DATABASE_URL: spare.adminUrl };
    const run = (zip: string) =>
      new Promise<{ code: number; out: string }>((resolve) =>
        execFile(process.execPath, ["--import", "tsx", cli, zip], { env }, (error, stdout, stderr) =>
          resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
        ),
      );
    const damaged = zipPath.replace(/\.zip$/, "-damaged.zip");
    const bytes = await readFile(zipPath);
    await writeFile(damaged, bytes.subarray(0, bytes.length - 100));
    const refused = await run(damaged);
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(/not a readable ZIP/);
    const imported = await run(zipPath);
    expect(imported.out).toMatch(new RegExp(`Imported tenant ${a.tenantId}`));
    expect(imported.code).toBe(0);
    expect(await spare.admin`select id from tenants where id = ${a.tenantId}`).toEqual([{ id: a.tenantId }]);
  }, 60_000);

  it("refuses to import the same tenant twice", async () => {
    const error = await importTenant({ adminUrl: target.db.adminUrl, roles: target.config.roles, keks: target.config.keks, zipPath }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/already exists/);
  });
});
