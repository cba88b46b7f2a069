// Brings a backup back into an empty database. Every check that can refuse runs before anything is
// written: the encrypted file against the manifest's sha256 (before decrypting), the schema version
// against this Laurel's migrations, the target's emptiness; then the whole file is decrypted (age
// authenticates every 64 KiB chunk and the end) into a private temporary file, and its sealed header
// must agree with the manifest. Only then do the roles get made and pg_restore run, in one transaction.
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import { pipeline } from "node:stream/promises";
import * as age from "age-encryption";
import postgres from "postgres";
import type { DbRoles } from "../../config.js";
import { ensureRoles, migrate, readMigrations } from "../../db/migrate.js";
import { BACKUP_SUFFIX, BackupError, Digesting, digestFile, HeaderSplitter, MANIFEST_SUFFIX, manifestDisagreements, readManifest, type BackupManifest } from "./format.js";
import { restoreDump } from "./pg-tools.js";

export interface RestoreOptions {
  /** The `.pgdump.age` file (its `.manifest.json` must be beside it), or the manifest. */
  file: string;
  /** Admin (superuser) URL of an existing, empty database. */
  intoUrl: string;
  /** age secret keys (AGE-SECRET-KEY-1...); one must be among the backup's recipients. */
  identities: string[];
  /** This Laurel's role names: must be those the backup was taken with (the dump names them). */
  roles: DbRoles;
  /** Needed only when the login role does not exist yet on the target cluster (as for migrate). */
  loginPassword?: string;
  log?: (line: string) => void;
}

export interface RestoreResult {
  manifest: BackupManifest;
  /** Migrations applied after the restore (the backup was older than this Laurel). */
  applied: string[];
  elapsedMs: number;
}

/** Restores `file` into `intoUrl`; throws BackupError, with the target left untouched, when any check fails. */
export async function restoreBackup(options: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  const log = options.log ?? (() => {});
  const { backupPath, manifestPath } = pairOf(options.file);
  const manifest = await readManifest(manifestPath);
  const actual = await digestFile(backupPath).catch((error: NodeJS.ErrnoException) => {
    throw new BackupError(`cannot read ${backupPath}: ${error.code ?? error.message}`);
  });
  if (actual.sha256 !== manifest.file.sha256 || actual.bytes !== manifest.file.bytes) {
    throw new BackupError(`${path.basename(backupPath)} does not match its manifest (sha256 ${actual.sha256}, ${actual.bytes} bytes; the manifest says ${manifest.file.sha256}, ${manifest.file.bytes} bytes): refusing to decrypt it`);
  }
  await checkSchemaVersion(manifest);
  const mismatched = (Object.keys(options.roles) as (keyof DbRoles)[]).filter((k) => manifest.roles?.[k] !== options.roles[k]);
  if (mismatched.length) {
    throw new BackupError(`the backup's objects belong to roles ${JSON.stringify(manifest.roles)}; set ${mismatched.map((k) => envOfRole[k]).join(", ")} to those names to restore it`);
  }
  await checkEmpty(options.intoUrl);

  const scratch = await mkdtemp(path.join(os.tmpdir(), "laurel-restore-"));
  try {
    const archive = path.join(scratch, "laurel.dump");
    await decryptTo(backupPath, options.identities, archive, manifest);
    log(`decrypted and checked ${path.basename(backupPath)} (schema ${manifest.schemaVersion.id}, taken ${manifest.createdAt})`);
    await ensureRoles({ adminUrl: options.intoUrl, roles: options.roles, loginPassword: options.loginPassword, log });
    await restoreDump(options.intoUrl, archive);
    log("pg_restore finished");
    // The migrations' checksums are checked against sql/, and a backup older than this Laurel is brought up to date.
    const { applied } = await migrate({ adminUrl: options.intoUrl, roles: options.roles, loginPassword: options.loginPassword, log });
    return { manifest, applied, elapsedMs: Date.now() - started };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

const envOfRole: Record<keyof DbRoles, string> = {
  owner: "LAUREL_DB_OWNER",
  login: "LAUREL_DB_LOGIN",
  member: "LAUREL_DB_MEMBER",
  anonymous: "LAUREL_DB_ANONYMOUS",
  gatekeeper: "LAUREL_DB_GATEKEEPER",
};

function pairOf(file: string): { backupPath: string; manifestPath: string } {
  if (file.endsWith(MANIFEST_SUFFIX)) return { manifestPath: file, backupPath: file.slice(0, -MANIFEST_SUFFIX.length) + BACKUP_SUFFIX };
  if (file.endsWith(BACKUP_SUFFIX)) return { backupPath: file, manifestPath: file.slice(0, -BACKUP_SUFFIX.length) + MANIFEST_SUFFIX };
  throw new BackupError(`${file}: expected a ${BACKUP_SUFFIX} file (or its ${MANIFEST_SUFFIX})`);
}

/** A backup from a newer Laurel, or from another history, cannot be brought forward by these migrations. */
async function checkSchemaVersion(manifest: BackupManifest): Promise<void> {
  const migrations = await readMigrations();
  const { id, name } = manifest.schemaVersion;
  if (id > migrations.length) throw new BackupError(`the backup is at migration ${name}, newer than this Laurel's latest (${migrations.at(-1)?.name}): restore it with a Laurel at least as new`);
  if (migrations[id - 1]?.name !== name) throw new BackupError(`the backup's migration ${id} is ${name}, but this Laurel's is ${migrations[id - 1]?.name}`);
}

/** Refuses a database holding anything beyond what CREATE DATABASE gives (an empty public schema, plpgsql). */
async function checkEmpty(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ database: string; objects: string[] }[]>`
      select current_database() as database, array(
        select n.nspname || '.' || c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_(toast|temp)'
        union all select 'schema ' || nspname from pg_namespace
         where nspname not in ('public', 'pg_catalog', 'information_schema') and nspname !~ '^pg_'
        union all select 'function ' || p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'public'
        union all select 'extension ' || extname from pg_extension where extname <> 'plpgsql'
        limit 5) as objects`;
    if (row!.objects.length) throw new BackupError(`database ${row!.database} is not empty (${row!.objects.join(", ")}...): restore only into a new, empty database`);
  } catch (error) {
    if (error instanceof BackupError) throw error;
    throw new BackupError(`cannot connect to the target database: ${(error as Error).message}`);
  } finally {
    await sql.end();
  }
}

/** Decrypts into `archive` (mode 0600) without the header line; checks header and dump against the manifest. */
async function decryptTo(backupPath: string, identities: string[], archive: string, manifest: BackupManifest): Promise<void> {
  const decrypter = new age.Decrypter();
  for (const identity of identities) decrypter.addIdentity(identity);
  const splitter = new HeaderSplitter();
  const dumpDigest = new Digesting();
  try {
    const source = Readable.toWeb(createReadStream(backupPath)) as ReadableStream<Uint8Array>;
    const plaintext = await decrypter.decrypt(source);
    await pipeline(Readable.fromWeb(plaintext as unknown as NodeReadableStream<Uint8Array>), splitter, dumpDigest, createWriteStream(archive, { mode: 0o600 }));
  } catch (error) {
    if (error instanceof BackupError) throw error;
    throw new BackupError(`cannot decrypt ${path.basename(backupPath)}: ${(error as Error).message}`);
  }
  const disagree = manifestDisagreements(manifest, splitter.header());
  if (disagree.length) throw new BackupError(`the manifest disagrees with the header sealed inside the backup (${disagree.join(", ")}): it is not this backup's manifest, or it was edited`);
  const sha256 = dumpDigest.hash.digest("hex");
  if (sha256 !== manifest.dump.sha256 || dumpDigest.bytes !== manifest.dump.bytes) throw new BackupError("the decrypted dump does not match the manifest's sha256");
}
