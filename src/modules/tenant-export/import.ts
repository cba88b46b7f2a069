// Importing a tenant's export into a fresh Laurel (the operator's CLI, import-cli.ts): the ZIP is checked
// whole against its manifest first (format version, every file's bytes, rows and sha256, no file
// missing or extra), and only then restored, all in one transaction, with the same ids, so every
// credential keeps its URL and its signed document, and status lists keep their bits (revocations
// survive). Credentials verify once the issuer's host (PUBLIC_URL) points at the new deployment.
//
// Secrets (catalog.ts SECRET_COLUMNS): signing keys travel sealed under the source's key-encryption
// key; the import opens each with this deployment's LAUREL_KEKS (which must hold the source's version,
// see the README) and re-seals it under the current version, so the old version can then be dropped.
// Webhook endpoints arrive disabled with a new secret the partner has never seen (rotate it, give it to
// the partner, re-enable); API keys arrive revoked (make new ones); queued emails arrive without payload.
import { rewrapKey, type KeyPurpose } from "../vault/data-keys.js";
import { createHash, randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import postgres from "postgres";
import yauzl from "yauzl";
import type { DbRoles } from "../../config.js";
import { aadFor } from "../issuers/service.js";
import { open as openSealed, seal } from "../issuers/sealing.js";
import { newSecret, secretAad } from "../webhooks/service.js";
import { exportTables } from "./catalog.js";
import { TENANT_EXPORT_FORMAT_VERSION, type TenantExportManifest } from "./task.js";

/** Anything wrong with the ZIP or the target: the import wrote nothing. */
export class TenantImportError extends Error {
  override name = "TenantImportError";
}

export interface ImportOptions {
  /** Superuser or owner-capable admin URL of the target database (the one migrations use). */
  adminUrl: string;
  roles: DbRoles;
  keks: ReadonlyMap<number, Buffer>;
  zipPath: string;
  /** Rows per INSERT (default 2,000). */
  batchSize?: number;
  log?: (line: string) => void;
}

export interface ImportResult {
  tenantId: string;
  tables: { table: string; rows: number }[];
}

type Zip = yauzl.ZipFile;

const openZip = (file: string) =>
  new Promise<Zip>((resolve, reject) => yauzl.open(file, { lazyEntries: true, autoClose: false }, (e, z) => (e ? reject(e) : resolve(z))));

async function entries(zip: Zip): Promise<Map<string, yauzl.Entry>> {
  const found = new Map<string, yauzl.Entry>();
  await new Promise<void>((resolve, reject) => {
    zip.on("entry", (entry: yauzl.Entry) => (found.set(entry.fileName, entry), zip.readEntry()));
    zip.on("end", resolve);
    zip.on("error", reject);
    zip.readEntry();
  });
  return found;
}

const stream = (zip: Zip, entry: yauzl.Entry) =>
  new Promise<Readable>((resolve, reject) => zip.openReadStream(entry, (e, s) => (e ? reject(e) : resolve(s))));

/** Lines of an NDJSON entry, as they stream (a whole file is never held). */
async function* lines(zip: Zip, entry: yauzl.Entry): AsyncGenerator<string> {
  let rest = "";
  // A chunk can end inside a multi-byte character: the decoder keeps its first bytes for the next one.
  const decoder = new StringDecoder("utf8");
  for await (const chunk of await stream(zip, entry)) {
    const text = rest + decoder.write(chunk as Buffer);
    const parts = text.split("\n");
    rest = parts.pop()!;
    yield* parts;
  }
  rest += decoder.end();
  if (rest) yield rest;
}

/** Checks the ZIP against its manifest without writing anything; returns the manifest. */
export async function verifyTenantExport(zipPath: string): Promise<TenantExportManifest> {
  const zip = await openZip(zipPath).catch((e: Error) => {
    throw new TenantImportError(`${zipPath} is not a readable ZIP: ${e.message}`);
  });
  try {
    return (await verifyOpen(zip)).manifest;
  } finally {
    zip.close();
  }
}

async function verifyOpen(zip: Zip): Promise<{ manifest: TenantExportManifest; all: Map<string, yauzl.Entry> }> {
  const all = await entries(zip);
  const manifestEntry = all.get("manifest.json");
  if (!manifestEntry) throw new TenantImportError("manifest.json is missing: this is not a Laurel tenant export");
  const chunks: Buffer[] = [];
  for await (const c of await stream(zip, manifestEntry)) chunks.push(c as Buffer);
  let manifest: TenantExportManifest;
  try {
    manifest = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new TenantImportError("manifest.json is not valid JSON");
  }
  if (manifest.format !== "laurel-tenant-export") throw new TenantImportError("manifest.json does not describe a Laurel tenant export");
  if (manifest.formatVersion !== TENANT_EXPORT_FORMAT_VERSION) {
    throw new TenantImportError(`format version ${manifest.formatVersion} is not supported (this Laurel reads ${TENANT_EXPORT_FORMAT_VERSION})`);
  }
  const listed = new Set(manifest.files.map((f) => f.path));
  const extra = [...all.keys()].filter((p) => p !== "manifest.json" && !listed.has(p));
  if (extra.length) throw new TenantImportError(`files not in the manifest: ${extra.join(", ")}`);
  for (const f of manifest.files) {
    const entry = all.get(f.path);
    if (!entry) throw new TenantImportError(`${f.path} is listed in the manifest but missing from the ZIP`);
    const hash = createHash("sha256");
    let bytes = 0;
    let rows = 0;
    for await (const chunk of await stream(zip, entry)) {
      const b = chunk as Buffer;
      hash.update(b);
      bytes += b.length;
      for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) rows++;
    }
    const sha256 = hash.digest("hex");
    if (sha256 !== f.sha256) throw new TenantImportError(`${f.path}: sha256 ${sha256} does not match the manifest's ${f.sha256} (the file was altered or damaged)`);
    if (bytes !== f.bytes) throw new TenantImportError(`${f.path}: ${bytes} bytes, the manifest says ${f.bytes}`);
    if (rows !== f.rows) throw new TenantImportError(`${f.path}: ${rows} rows, the manifest says ${f.rows}`);
  }
  return { manifest, all };
}

const hexBytes = (value: unknown) => Buffer.from(String(value).replace(/^\\x/, ""), "hex");
const pgBytes = (bytes: Uint8Array) => `\\x${Buffer.from(bytes).toString("hex")}`;

/** Per-table changes on the way in: secrets re-sealed or replaced (see the module comment). */
function fixup(table: string, keks: ReadonlyMap<number, Buffer>, importedAt: string): ((row: Record<string, unknown>) => Record<string, unknown>) | null {
  if (table === "signing_keys") {
    return (row) => {
      const aad = aadFor(String(row.tenant_id), String(row.id));
      let secret: string;
      try {
        secret = openSealed(keks, hexBytes(row.sealed_secret_key), Number(row.kek_version), aad);
      } catch (e) {
        throw new TenantImportError(
          `signing key ${row.key_number} is sealed under key-encryption key version ${row.kek_version}, which does not open it here (${(e as Error).message}): ` +
            `add the source deployment's LAUREL_KEKS entry for version ${row.kek_version} and import again`,
        );
      }
      const { sealed, kekVersion } = seal(keks, secret, aad);
      return { ...row, sealed_secret_key: pgBytes(sealed), kek_version: kekVersion };
    };
  }
  // Personal data travels sealed under the tenant's data keys, and those travel wrapped by the source's
  // KEK, like signing keys: the operator brings that KEK (LAUREL_KEKS), the keys are re-wrapped here.
  if (table === "tenant_data_keys") {
    return (row) => {
      if (row.retired_at) return row;
      const stored = { purpose: row.purpose as KeyPurpose, version: Number(row.version), wrapped: hexBytes(row.wrapped), kek_version: Number(row.kek_version) };
      let rewrapped: ReturnType<typeof rewrapKey>;
      try {
        rewrapped = rewrapKey(keks, String(row.tenant_id), stored);
      } catch (e) {
        throw new TenantImportError(
          `the tenant's ${stored.purpose} key v${stored.version} is wrapped under key-encryption key version ${stored.kek_version}, which does not open it here (${(e as Error).message}): ` +
            `add the source deployment's LAUREL_KEKS entry for version ${stored.kek_version} and import again`,
        );
      }
      return rewrapped ? { ...row, wrapped: pgBytes(rewrapped.wrapped), kek_version: rewrapped.kek_version } : row;
    };
  }
  if (table === "webhook_endpoints") {
    return (row) => {
      const { sealed, kekVersion } = seal(keks, newSecret(), secretAad(String(row.tenant_id), String(row.id)));
      return {
        ...row,
        secret_sealed: pgBytes(sealed),
        secret_kek_version: kekVersion,
        enabled: false,
        disabled_at: importedAt,
        disabled_reason: "Imported without its signing secret: rotate the secret, give it to the partner, then enable the endpoint",
      };
    };
  }
  if (table === "api_keys") return (row) => ({ ...row, secret_hash: pgBytes(randomBytes(32)), revoked_at: row.revoked_at ?? importedAt });
  // A domain verified elsewhere is not verified here: the tenant verifies it again with this deployment's
  // provider (otherwise a ZIP could make any domain, the platform's own included, a verified sender).
  if (table === "sender_domains") return (row) => ({ ...row, status: "pending", verified_at: null });
  return null;
}

const EXTRA_COLUMNS: Record<string, string[]> = {
  signing_keys: [],
  webhook_endpoints: ["secret_sealed", "secret_kek_version"],
  api_keys: ["secret_hash"],
};

/**
 * Verifies the ZIP (verifyTenantExport), then restores the tenant into the target database in one
 * transaction as the owner role with the tenant's claim set (so every row still passes its tenant
 * policy). Refuses (TenantImportError, nothing written) a tampered or unknown-version ZIP, a tenant id or
 * slug that already exists, and signing keys this deployment's key-encryption keys cannot open.
 * Analytics tables are rebuilt by their triggers as rows arrive.
 */
export async function importTenant(options: ImportOptions): Promise<ImportResult> {
  const log = options.log ?? (() => {});
  const batchSize = options.batchSize ?? 2_000;
  const zip = await openZip(options.zipPath).catch((e: Error) => {
    throw new TenantImportError(`${options.zipPath} is not a readable ZIP: ${e.message}`);
  });
  const sql = postgres(options.adminUrl, { max: 1, onnotice: () => {} });
  try {
    const { manifest, all } = await verifyOpen(zip);
    log(`verified ${manifest.files.length} files against manifest.json (format ${manifest.formatVersion})`);
    const missing = manifest.signingKeyKekVersions.filter((v) => !options.keks.has(v));
    if (missing.length) {
      throw new TenantImportError(`the signing keys are sealed under key-encryption key version(s) ${missing.join(", ")}, which LAUREL_KEKS does not hold here: add the source deployment's entries and import again`);
    }
    const tenantId = manifest.tenantId;
    const importedAt = new Date().toISOString();
    const tables: ImportResult["tables"] = [];
    const createdUsers: string[] = [];
    await sql.begin(async (tx) => {
      await tx.unsafe(`set local role "${options.roles.owner}"`);
      await tx`select set_config('app.tenant_id', ${tenantId}, true), set_config('statement_timeout', '0', true)`;
      // The manifest names tables and columns that go into SQL: only this deployment's own may.
      const known = new Map((await exportTables(tx)).map((t) => [t.name, new Set(t.columns)]));
      for (const f of manifest.files) {
        const columns = known.get(f.table);
        if (!columns || f.path !== `tables/${f.table}.ndjson`) throw new TenantImportError(`${f.path}: table ${JSON.stringify(f.table)} is not one this Laurel exports`);
        const unknown = f.columns.filter((c) => !columns.has(c));
        if (unknown.length) throw new TenantImportError(`${f.path}: columns ${unknown.join(", ")} do not exist here (an export of a newer Laurel?)`);
      }
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(tenantId)) throw new TenantImportError("the manifest's tenantId is not a UUID");
      if ((await tx`select 1 from tenants where id = ${tenantId}`).length) {
        throw new TenantImportError(`tenant ${tenantId} already exists here: import into a fresh Laurel (or one without this tenant)`);
      }
      // Accounts are global and their addresses unique: a member whose address already has another account
      // here cannot come in as a second one (nor be merged into it silently).
      const usersFile = manifest.files.find((f) => f.table === "users");
      if (usersFile) {
        const ids: string[] = [];
        const emails: string[] = [];
        for await (const line of lines(zip, all.get(usersFile.path)!)) {
          if (!line) continue;
          const user = JSON.parse(line) as { id: string; email: string };
          ids.push(String(user.id));
          emails.push(String(user.email));
        }
        // Accounts are not tenant rows: the owner role sees none of them, so the operator's connection asks.
        await tx.unsafe("reset role");
        const taken = await tx<{ email: string }[]>`
          select u.email from users u join unnest(${ids}::uuid[], ${emails}::text[]) as x(id, email) on u.email = x.email and u.id <> x.id
           order by 1`;
        await tx.unsafe(`set local role "${options.roles.owner}"`);
        if (taken.length) {
          throw new TenantImportError(
            `${taken.length === 1 ? "an account with this address already exists" : "accounts with these addresses already exist"} here: ${taken.map((t) => t.email).join(", ")}. ` +
              "The import brings only new accounts: import into a Laurel where these people have no account yet",
          );
        }
      }
      for (const file of manifest.files) {
        const columns = [...file.columns, ...(EXTRA_COLUMNS[file.table] ?? [])];
        const change = fixup(file.table, options.keks, importedAt);
        const list = columns.map((c) => `"${c}"`).join(", ");
        const conflict = file.table === "users" ? " on conflict (id) do nothing returning id" : "";
        const insert = `insert into "${file.table}" (${list}) select ${list} from json_populate_recordset(null::"${file.table}", $1::text::json)${conflict}`;
        let batch: string[] = [];
        const flush = async () => {
          if (!batch.length) return;
          const inserted = await tx.unsafe(insert, [`[${batch.join(",")}]`]);
          if (file.table === "users") for (const r of inserted as unknown as { id: string }[]) createdUsers.push(r.id);
          batch = [];
        };
        let rows = 0;
        // Users are global, not tenant rows: no runtime role may create one with a given id (only
        // sign_up() makes accounts), so the members' accounts are written as the admin connection
        // itself, the operator's. Every other row goes in as the owner under the tenant's policies,
        // whose WITH CHECK refuses a row of any other tenant, however the files were made.
        if (file.table === "users") await tx.unsafe("reset role");
        for await (const line of lines(zip, all.get(file.path)!)) {
          if (!line) continue;
          batch.push(change ? JSON.stringify(change(JSON.parse(line))) : line);
          rows++;
          if (batch.length >= batchSize) await flush();
        }
        await flush();
        if (file.table === "users") await tx.unsafe(`set local role "${options.roles.owner}"`);
        tables.push({ table: file.table, rows });
        log(`${file.table}: ${rows} rows`);
      }
      // Only the tenant's members' accounts may come in: an account the ZIP made that no membership of this
      // tenant names is removed, so a crafted file cannot take anyone's address on this deployment.
      if (createdUsers.length) {
        await tx.unsafe("reset role");
        await tx`delete from users u where u.id = any(${createdUsers}::uuid[])
                   and not exists (select 1 from memberships m where m.user_id = u.id and m.tenant_id = ${tenantId})`;
        await tx.unsafe(`set local role "${options.roles.owner}"`);
      }
      await tx`insert into audit_log (tenant_id, actor_kind, action, target_type, target_id, details)
               values (${tenantId}, 'system', 'tenant.imported', 'Tenant', ${tenantId},
                       ${JSON.stringify({ exportId: manifest.exportId, exportedAt: manifest.createdAt, rows: tables.reduce((n, t) => n + t.rows, 0) })}::text::jsonb)`;
    });
    return { tenantId, tables };
  } catch (error) {
    if (error instanceof TenantImportError) throw error;
    const e = error as Error & { detail?: string; table_name?: string };
    throw new TenantImportError(`the import failed and wrote nothing: ${e.message}${e.detail ? ` (${e.detail})` : ""}`);
  } finally {
    zip.close();
    await sql.end({ timeout: 5 });
  }
}
