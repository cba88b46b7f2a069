// Takes one encrypted backup of Laurel's database into a folder (issue 13 part 4). pg_dump's output is
// encrypted as it streams (age, to the configured public keys): no plaintext copy of the database ever
// touches the disk, and memory stays flat however large the dump. The files are written under
// temporary dot-names and renamed when complete, the manifest last: a backup counts once its manifest
// exists, so a failed or killed run leaves nothing that passes for one.
import { createWriteStream } from "node:fs";
import { mkdir, open, rename, rm } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as age from "age-encryption";
import postgres from "postgres";
import type { DbRoles } from "../../config.js";
import { LOCK_KEY } from "../../db/migrate.js";
import {
  BACKUP_FORMAT,
  BACKUP_SUFFIX,
  BackupError,
  backupStem,
  Digesting,
  headerLine,
  laurelVersion,
  MANIFEST_SUFFIX,
  type BackupHeader,
  type BackupManifest,
} from "./format.js";
import { pgDumpVersion, startDump } from "./pg-tools.js";

export interface BackupOptions {
  /** Admin (owner or superuser) URL of Laurel's database: config.databaseUrl. */
  adminUrl: string;
  roles: DbRoles;
  /** age X25519 public keys (age1...); at least one. */
  recipients: string[];
  /** Folder to write into; created if missing. */
  dir: string;
  log?: (line: string) => void;
}

export interface BackupResult {
  backupPath: string;
  manifestPath: string;
  manifest: BackupManifest;
  elapsedMs: number;
}

/**
 * Writes `<dir>/<stem>.pgdump.age` and `<dir>/<stem>.manifest.json` and returns them. While the
 * dump runs it holds the migrations' advisory lock shared, so no migration changes the schema version
 * it recorded (a migration waits for the backup). Throws BackupError (pg_dump missing or failing, not a
 * Laurel database) with nothing left in dir.
 */
export async function takeBackup(options: BackupOptions): Promise<BackupResult> {
  if (!options.recipients.length) throw new BackupError("no recipients: set LAUREL_BACKUP_RECIPIENTS to the age public key(s) the backup is for");
  const started = Date.now();
  await mkdir(options.dir, { recursive: true, mode: 0o700 });
  const sql = postgres(options.adminUrl, { max: 1, onnotice: () => {} });
  const reserved = await sql.reserve().catch(async (error: Error) => {
    await sql.end();
    throw new BackupError(`cannot connect to the database: ${error.message}`);
  });
  let partials: string[] = [];
  try {
    await reserved`select pg_advisory_lock_shared(${LOCK_KEY})`;
    const header = await readHeader(reserved, options.roles);
    const stem = backupStem(header.database, new Date(header.createdAt));
    const backupPath = path.join(options.dir, `${stem}${BACKUP_SUFFIX}`);
    const manifestPath = path.join(options.dir, `${stem}${MANIFEST_SUFFIX}`);
    const partialBackup = path.join(options.dir, `.${stem}${BACKUP_SUFFIX}.partial`);
    const partialManifest = path.join(options.dir, `.${stem}${MANIFEST_SUFFIX}.partial`);
    partials = [partialBackup, partialManifest];

    const { dump, file } = await encryptDump(options.adminUrl, header, options.recipients, partialBackup);
    const manifest: BackupManifest = {
      ...header,
      encryption: { scheme: "age-encryption.org/v1", recipients: options.recipients },
      dump,
      file: { name: path.basename(backupPath), ...file },
    };
    await writeDurably(partialManifest, `${JSON.stringify(manifest, null, 2)}\n`);
    await rename(partialBackup, backupPath);
    await rename(partialManifest, manifestPath);
    partials = [];
    const elapsedMs = Date.now() - started;
    options.log?.(`backup ${path.basename(backupPath)}: schema ${header.schemaVersion.id}, ${file.bytes} bytes, sha256 ${file.sha256}, ${elapsedMs} ms`);
    return { backupPath, manifestPath, manifest, elapsedMs };
  } finally {
    await Promise.all(partials.map((p) => rm(p, { force: true })));
    await reserved`select pg_advisory_unlock_shared(${LOCK_KEY})`.catch(() => {});
    reserved.release();
    await sql.end();
  }
}

async function readHeader(sql: postgres.ReservedSql, roles: DbRoles): Promise<BackupHeader> {
  const [db] = await sql<{ database: string; server_version: string; has_migrations: boolean }[]>`
    select current_database() as database, current_setting('server_version') as server_version,
           to_regclass('public.laurel_migrations') is not null as has_migrations`;
  if (!db!.has_migrations) throw new BackupError(`database ${db!.database} has no laurel_migrations table: it is not a migrated Laurel database`);
  const [latest] = await sql<{ id: number; name: string }[]>`select id, name from public.laurel_migrations order by id desc limit 1`;
  if (!latest) throw new BackupError(`database ${db!.database} has no migration applied yet`);
  return {
    format: BACKUP_FORMAT,
    createdAt: new Date().toISOString(),
    database: db!.database,
    schemaVersion: { id: latest.id, name: latest.name },
    laurelVersion: await laurelVersion(),
    serverVersion: db!.server_version,
    pgDumpVersion: await pgDumpVersion(),
    roles,
    dumpFormat: "pg_dump custom (-Fc)",
  };
}

/** Header line + pg_dump's stdout, through age, to `target` (mode 0600, synced). */
async function encryptDump(adminUrl: string, header: BackupHeader, recipients: string[], target: string) {
  // Recipients are checked before pg_dump starts: a bad one must not leave it running.
  const encrypter = new age.Encrypter();
  for (const r of recipients) encrypter.addRecipient(r);
  const running = startDump(adminUrl);
  const dumpDigest = new Digesting();
  const fileDigest = new Digesting();
  async function* plaintext() {
    yield headerLine(header);
    for await (const chunk of running.stdout.pipe(dumpDigest)) yield chunk as Buffer;
  }
  const written = (async () => {
    const ciphertext = await encrypter.encrypt(Readable.toWeb(Readable.from(plaintext())) as ReadableStream<Uint8Array>);
    await pipeline(Readable.fromWeb(ciphertext as unknown as import("node:stream/web").ReadableStream<Uint8Array>), fileDigest, createWriteStream(target, { mode: 0o600 }));
  })();
  // pg_dump failing half-way still ends its stdout, and age would seal the truncated dump as a valid
  // file: its exit status decides, whichever of the two settles first.
  try {
    await Promise.all([running.done, written]);
  } catch (error) {
    running.kill();
    await Promise.allSettled([running.done, written]);
    throw error;
  }
  const handle = await open(target, "r+");
  await handle.sync().finally(() => handle.close());
  return {
    dump: { bytes: dumpDigest.bytes, sha256: dumpDigest.hash.digest("hex") },
    file: { bytes: fileDigest.bytes, sha256: fileDigest.hash.digest("hex") },
  };
}

async function writeDurably(file: string, text: string): Promise<void> {
  const handle = await open(file, "w", 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
