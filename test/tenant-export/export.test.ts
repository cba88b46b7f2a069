// A tenant's full export end to end: the owner asks through the SDK, the real worker streams every
// table into a ZIP whose manifest checks out (rows, bytes and sha256 per file), webhook secrets stay
// behind, the signed link serves it and is audited, another tenant sees and fetches nothing, and an
// export killed mid-way resumes from its checkpoints to the same files a clean export writes.
import { createHash } from "node:crypto";
import { readdir, stat } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CarryOutDataSubjectRequestDocument,
  DataSubjectRequestDocument,
  FileDataSubjectRequestDocument,
  TenantExportDocument,
  TenantExportsDocument,
} from "../../src/sdk/generated.js";
import { encodeGlobalID } from "@pothos/plugin-relay";
import { withTenantTransaction, type Db } from "../../src/db/tenant-transaction.js";
import { ROLE_PERMISSIONS } from "../../src/modules/auth/permissions.js";
import { createTenantExportTask, exportPaths, type TenantExportManifest } from "../../src/modules/tenant-export/task.js";
import { tenantExportLinks } from "../../src/modules/tenant-export/service.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, type TestTenant } from "../helpers/factories.js";
import { openDocument } from "../../src/modules/credentials/sealed-document.js";
import { fromSqlRow, openRecipient } from "../../src/modules/recipients/personal.js";
import { openedDocument, openedRecipients } from "../helpers/sealed.js";
import { exportAndWait, exportedBytes, keysFromExport, ndjson, seedSmallTenant, unzip } from "./helpers.js";

// The worker's crash switch: throws once, at the batch this names, before that batch's checkpoint.
const crash = { table: "", atBatch: 0, fired: false, batchesRead: new Map<string, number>() };

let app: TestApp;
let a: TestTenant;
let b: TestTenant;
beforeAll(async () => {
  app = await startTestApp({}, {
    worker: {
      tenantExport: {
        batchSize: 3,
        hooks: {
          beforeCheckpoint: ({ table, batch }) => {
            crash.batchesRead.set(table, (crash.batchesRead.get(table) ?? 0) + 1);
            if (!crash.fired && table === crash.table && batch === crash.atBatch) {
              crash.fired = true;
              throw new Error("simulated worker crash");
            }
          },
        },
      },
    },
  });
  a = await signUpTenant(app, "Export Harbour");
  b = await signUpTenant(app, "Other Harbour");
  await seedSmallTenant(a.owner);
  await seedSmallTenant(b.owner);
  // Enough engagement events for many batches (arranged directly; the export reads them like any row).
  await app.db.admin`
    insert into engagement_events (tenant_id, id, credential_id, type, occurred_at, channel, ua_class)
    select ${a.tenantId}, gen_random_uuid(), c.id, 'page_viewed', now() - make_interval(secs => g), 'web', 'desktop'
      from (select id from credentials where tenant_id = ${a.tenantId} limit 1) c, generate_series(1, 40) g`;
}, 60_000);
afterAll(async () => app?.close());

const local = (url: string) => url.replace(/^https?:\/\/[^/]+/, app.server.url);
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const uuidOf = (globalId: string) => Buffer.from(globalId, "base64").toString("utf8").split(":")[1]!;

describe("exporting a whole tenant", () => {
  let done: Awaited<ReturnType<typeof exportAndWait>>;
  let files: Map<string, Buffer>;
  let manifest: TenantExportManifest;

  beforeAll(async () => {
    done = await exportAndWait(a.owner);
    const response = await fetch(local(done.download!.url));
    expect(response.status).toBe(200);
    const zip = Buffer.from(await response.arrayBuffer());
    expect(sha(zip)).toBe(done.sha256);
    expect(zip.length).toBe(done.bytes);
    files = await unzip(zip);
    manifest = JSON.parse(files.get("manifest.json")!.toString());
  }, 60_000);

  it("reports its progress as done: every table, every row", () => {
    expect(done).toMatchObject({ state: "completed", formatVersion: "1.0", failure: null });
    expect(done.tablesDone).toBe(done.tablesTotal);
    expect(done.tablesTotal).toBe(manifest.files.length);
    expect(done.rowsWritten).toBe(manifest.files.reduce((n, f) => n + f.rows, 0));
  });

  it("writes a manifest whose counts, sizes and sha256 match each NDJSON file", () => {
    expect(manifest).toMatchObject({ format: "laurel-tenant-export", formatVersion: "1.0", tenantId: a.tenantId, exportId: uuidOf(done.id) });
    expect([...files.keys()].sort()).toEqual(["manifest.json", ...manifest.files.map((f) => f.path)].sort());
    for (const f of manifest.files) {
      const body = files.get(f.path)!;
      expect({ path: f.path, bytes: body.length, sha256: sha(body), rows: ndjson(body).length }).toEqual({ path: f.path, bytes: f.bytes, sha256: f.sha256, rows: f.rows });
    }
    const rows = Object.fromEntries(manifest.files.map((f) => [f.table, f.rows]));
    expect(rows).toMatchObject({ tenants: 1, credentials: 3, recipients: 3, templates: 1, webhook_endpoints: 1, tenant_holidays: 1, engagement_events: expect.any(Number) });
    expect(rows.engagement_events).toBeGreaterThanOrEqual(40);
    expect(rows.status_lists).toBeGreaterThanOrEqual(1);
    expect(rows.signing_keys).toBe(1);
  });

  it("holds the signed documents exactly, and the signing key only sealed", async () => {
    // Documents travel as the database holds them: sealed, byte for byte, under the tenant's data key.
    const credentials = ndjson(files.get("tables/credentials.ndjson"));
    const stored = await app.db.admin<{ id: string; document_sealed: Buffer }[]>`select id, document_sealed from credentials where tenant_id = ${a.tenantId} order by id`;
    expect(credentials.map((c) => c.id)).toEqual(stored.map((r) => r.id));
    const keys = keysFromExport(files, a.tenantId, app.config.keks);
    for (const [i, row] of credentials.entries()) {
      expect(Object.keys(row)).not.toContain("document");
      expect(row.document_sealed).toMatch(/^\\x[0-9a-f]+$/);
      expect(Buffer.compare(exportedBytes(row.document_sealed), stored[i]!.document_sealed)).toBe(0);
      const opened = openDocument(keys, "credentials", { id: String(row.id), keyVersion: Number(row.key_version), documentSealed: exportedBytes(row.document_sealed), legacyDocument: row.legacy_document });
      expect(opened).toEqual(await openedDocument(app, String(row.id)));
      expect(opened).toMatchObject({ type: expect.arrayContaining(["VerifiableCredential"]) });
    }
    const [key] = ndjson(files.get("tables/signing_keys.ndjson"));
    expect(key!.sealed_secret_key).toMatch(/^\\x[0-9a-f]+$/);
    expect(Object.keys(key!)).not.toContain("secret_key");
  });

  it("carries personal data only sealed, and the tenant's data keys only wrapped", async () => {
    const text = [...files.values()].map((f) => f.toString()).join("\n");
    const people = await openedRecipients(app, a.tenantId);
    expect(people.map((p) => p.name).sort()).toEqual(["Ada Lovelace", "Grace Hopper", "Émilie du Châtelet"]);
    for (const person of people) {
      expect(text).not.toContain(person.email);
      expect(text).not.toContain(person.name!);
    }
    const recipients = ndjson(files.get("tables/recipients.ndjson"));
    expect(recipients.every((r) => /^\\x[0-9a-f]+$/.test(String(r.email_sealed)) && r.legacy_email === null)).toBe(true);
    // Opened with the keys the ZIP carries (unwrapped by the KEK alone), the rows are the people.
    const keys = keysFromExport(files, a.tenantId, app.config.keks);
    const opened = recipients.map((r) => {
      const row = { ...r, email_sealed: exportedBytes(r.email_sealed), name_sealed: r.name_sealed === null ? null : exportedBytes(r.name_sealed), attributes_sealed: exportedBytes(r.attributes_sealed) };
      return { id: r.id, ...openRecipient(keys, fromSqlRow(row as unknown as Parameters<typeof fromSqlRow>[0])) };
    });
    expect(opened.sort((x, y) => String(x.id).localeCompare(String(y.id)))).toEqual(
      people.map(({ id, email, name, attributes }) => ({ id, email, name, attributes })).sort((x, y) => x.id.localeCompare(y.id)),
    );
    const wrapped = ndjson(files.get("tables/tenant_data_keys.ndjson"));
    expect(wrapped.map((k) => k.purpose).sort()).toEqual(["data", "index"]);
    for (const k of wrapped) {
      expect(Object.keys(k).sort()).toEqual(["activates_at", "created_at", "kek_version", "purpose", "retired_at", "tenant_id", "version", "wrapped"]);
      expect(k.kek_version).toBe(1);
    }
    // Without the KEK the wrapped bytes open nothing: another KEK under the same version fails.
    expect(() => keysFromExport(files, a.tenantId, new Map([[1, Buffer.alloc(32, 9)]]))).toThrow();
  });

  it("leaves webhook secrets, API key hashes and email payloads behind", () => {
    const [endpoint] = ndjson(files.get("tables/webhook_endpoints.ndjson"));
    expect(endpoint).toMatchObject({ url: "https://partner.example/hooks" });
    expect(Object.keys(endpoint!)).not.toContain("secret_sealed");
    for (const row of ndjson(files.get("tables/api_keys.ndjson"))) expect(Object.keys(row)).not.toContain("secret_hash");
    const messages = ndjson(files.get("tables/email_outbox.ndjson"));
    expect(messages.length).toBeGreaterThan(0);
    for (const row of messages) {
      // Payloads (an invitation's token) and fixed content stay behind, sealed or legacy; the address travels sealed.
      for (const column of ["payload_sealed", "content_sealed", "legacy_payload", "legacy_content"]) expect(Object.keys(row)).not.toContain(column);
      expect(row.to_email_sealed).toMatch(/^\\x[0-9a-f]+$/);
    }
    expect(manifest.secretColumnsLeftOut.email_outbox).toEqual(["payload_sealed", "content_sealed", "legacy_payload", "legacy_content"]);
    expect(manifest.secretColumnsLeftOut.webhook_endpoints).toEqual(["secret_sealed", "secret_kek_version"]);
  });

  it("holds nothing of another tenant", () => {
    const everything = [...files.values()].map((f) => f.toString()).join("\n");
    expect(everything).not.toContain(b.tenantId);
    expect(everything).not.toContain(b.email);
  });

  it("is listed for the owner and invisible to another tenant, whose moved link is refused", async () => {
    const { tenant } = await a.owner.request(TenantExportsDocument, { first: 10 });
    expect(tenant.exports!.edges.map((e) => e.node.id)).toContain(done.id);
    expect((await b.owner.request(TenantExportDocument, { id: done.id })).node).toBeNull();
    const url = new URL(local(done.download!.url));
    expect((await fetch(url.toString().replace(a.tenantId, b.tenantId))).status).toBe(403);
    const forged = new URL(url);
    forged.searchParams.set("sig", Buffer.alloc(32, 9).toString("base64url"));
    expect((await fetch(forged)).status).toBe(403);
    // B's own valid signature over A's export id: B's tenant wall does not hold A's export.
    expect((await fetch(local(tenantExportLinks.sign(app.config, b.tenantId, uuidOf(done.id), new Date(Date.now() + 60_000))))).status).toBe(404);
    const expired = tenantExportLinks.sign(app.config, a.tenantId, uuidOf(done.id), new Date(Date.now() - 1000));
    expect((await fetch(local(expired))).status).toBe(410);
    const audit = await app.db.admin<{ action: string }[]>`
      select action from audit_log where tenant_id = ${a.tenantId} and action like 'tenant_export.%' order by at, id`;
    expect(audit.map((r) => r.action)).toEqual(["tenant_export.requested", "tenant_export.completed", "tenant_export.downloaded", "tenant_export.refused_expired"]);
  });

  it("streams progress over Server-Sent Events until it is done", async () => {
    const query = `subscription { tenantExportProgress(id: "${done.id}") { state tablesDone tablesTotal } }`;
    const res = await fetch(`${app.graphqlUrl}?query=${encodeURIComponent(query)}`, { headers: { accept: "text/event-stream", authorization: `Bearer ${a.token}` } });
    const events = (await res.text()).split("\n").filter((l) => l.startsWith("data: ")).map((l) => JSON.parse(l.slice(6))).filter((e) => e.data);
    expect(events.at(-1)!.data.tenantExportProgress).toEqual({ state: "completed", tablesDone: done.tablesTotal, tablesTotal: done.tablesTotal });
    const theirs = await fetch(`${app.graphqlUrl}?query=${encodeURIComponent(query)}`, { headers: { accept: "text/event-stream", authorization: `Bearer ${b.token}` } });
    expect(await theirs.text()).toMatch(/NOT_FOUND/);
  });

  it("resumes after a crash mid-table and writes the same files a clean export does", async () => {
    crash.table = "engagement_events";
    crash.atBatch = 4;
    crash.batchesRead.clear();
    // The crashed attempt leaves a torn batch at the end of its part file: the resume must cut it off.
    const resumed = await exportAndWait(a.owner, 60_000);
    expect(crash.fired).toBe(true);
    expect(resumed.attempts).toBe(2);
    const events = Math.ceil(40 / 3);
    // Resumed, not restarted: the second attempt read only the batches after the last checkpoint.
    expect(crash.batchesRead.get("engagement_events")).toBeLessThanOrEqual(events + 2);
    crash.batchesRead.clear();
    const clean = await exportAndWait(a.owner, 60_000);
    expect(clean.attempts).toBe(1);
    const read = async (d: typeof clean) => {
      const files = await unzip(Buffer.from(await (await fetch(local(d.download!.url))).arrayBuffer()));
      const m = JSON.parse(files.get("manifest.json")!.toString()) as TenantExportManifest;
      // Exports list themselves nowhere (tenant_exports is left out), so two exports hold the same rows.
      return m.files.filter((f) => f.table !== "audit_log").map((f) => ({ table: f.table, rows: f.rows, sha256: f.sha256 }));
    };
    expect(await read(resumed)).toEqual(await read(clean));
    // Part files are gone once the ZIP is written.
    const dir = exportPaths(app.config.exportDir, a.tenantId, uuidOf(resumed.id)).partsDir;
    await expect(readdir(dir)).rejects.toThrow();
  }, 120_000);

  it("on its last attempt records the failure and removes its partial files", async () => {
    const [row] = await app.db.admin<{ id: string }[]>`insert into tenant_exports (tenant_id, format_version) values (${b.tenantId}, '1.0') returning id`;
    const task = createTenantExportTask({ batchSize: 2, hooks: { beforeCheckpoint: () => { throw new Error("disk full"); } } });
    const claims = { dbRole: app.config.roles.member, tenantId: b.tenantId, userId: null };
    const job = {
      tenantId: b.tenantId,
      payload: { exportId: row!.id },
      caller: { tenantId: b.tenantId, actor: { kind: "system" as const, id: null }, permissions: ROLE_PERMISSIONS.owner, requestId: "test" },
      inTenant: <T,>(work: (db: Db) => Promise<T>) => withTenantTransaction(app.database, claims, work),
      attempt: 8,
      maxAttempts: 8,
      isFinalAttempt: true,
      jobId: "test",
    };
    await expect(task({ config: app.config, database: app.database }, job)).rejects.toThrow(/disk full/);
    const [failed] = await app.db.admin`select state, failure from tenant_exports where id = ${row!.id}`;
    expect(failed).toEqual({ state: "failed", failure: "The export failed: disk full" });
    await expect(readdir(exportPaths(app.config.exportDir, b.tenantId, row!.id).partsDir)).rejects.toThrow();
    const { node } = await b.owner.request(TenantExportDocument, { id: encodeGlobalID("TenantExport", row!.id) });
    expect(node).toMatchObject({ state: "failed", failure: "The export failed: disk full", download: null });
  });

  it("deletes the ZIPs of expired exports when the tenant exports again", async () => {
    const first = exportPaths(app.config.exportDir, a.tenantId, uuidOf(done.id)).zip;
    await expect(stat(first)).resolves.toBeTruthy();
    await app.db.admin`update tenant_exports set expires_at = now() - interval '1 minute' where tenant_id = ${a.tenantId} and id = ${uuidOf(done.id)}`;
    const next = await exportAndWait(a.owner, 60_000);
    await expect(stat(first)).rejects.toThrow();
    await expect(stat(exportPaths(app.config.exportDir, a.tenantId, uuidOf(next.id)).zip)).resolves.toBeTruthy();
  }, 60_000);

  it("keeps its files private to Laurel's user, and an erasure deletes them: they hold the erased person too", async () => {
    const latest = await exportAndWait(a.owner, 60_000);
    const zip = exportPaths(app.config.exportDir, a.tenantId, uuidOf(latest.id)).zip;
    expect((await stat(zip)).mode & 0o777).toBe(0o600);
    expect((await stat(app.config.exportDir)).mode & 0o777).toBe(0o700);
    const [kept] = await app.db.admin<{ id: string }[]>`select id from recipients where tenant_id = ${a.tenantId} and erased_at is null limit 1`;
    const person = (await openedRecipients(app, a.tenantId)).find((r) => r.id === kept!.id);
    const { fileDataSubjectRequest } = await a.owner.request(FileDataSubjectRequestDocument, {
      input: { kind: "erasure", email: person!.email, identityVerification: { method: "document_checked" } },
    });
    if (fileDataSubjectRequest.__typename !== "DataSubjectRequest") throw new Error(JSON.stringify(fileDataSubjectRequest));
    await a.owner.request(CarryOutDataSubjectRequestDocument, { id: fileDataSubjectRequest.id });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { node } = await a.owner.request(DataSubjectRequestDocument, { id: fileDataSubjectRequest.id });
      if (node?.__typename === "DataSubjectRequest" && node.state === "completed") break;
      if (Date.now() > deadline) throw new Error("the erasure did not complete");
      await new Promise((r) => setTimeout(r, 200));
    }
    await expect(stat(zip)).rejects.toThrow();
    expect((await fetch(local(latest.download!.url))).status).toBe(410);
    // The export no longer offers a link to a file that is gone.
    const { node } = await a.owner.request(TenantExportDocument, { id: latest.id });
    expect(node).toMatchObject({ state: "completed", download: null });
  }, 60_000);
});
