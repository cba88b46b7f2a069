// What a Laurel backup is on disk: `<stem>.pgdump.age` (age v1, to the configured X25519 recipients)
// and `<stem>.manifest.json` beside it. The age file's plaintext is one header line
// (`laurel-backup/1 {json}\n`: the manifest's facts known before the dump) followed by pg_dump's custom
// format, so those facts are authenticated with the dump: a manifest swapped in from another backup, or
// edited, disagrees with the line decrypted from inside (`age -d ... | tail -n +2` gives the bare dump).
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { Transform, type TransformCallback } from "node:stream";
import type { DbRoles } from "../../config.js";

export const BACKUP_FORMAT = "laurel-backup/1";
export const BACKUP_SUFFIX = ".pgdump.age";
export const MANIFEST_SUFFIX = ".manifest.json";

/** The facts sealed inside the encrypted file, ahead of the dump. */
export interface BackupHeader {
  format: typeof BACKUP_FORMAT;
  /** ISO 8601, UTC: when pg_dump's snapshot was about to be taken. */
  createdAt: string;
  database: string;
  /** The latest migration applied (public.laurel_migrations), which is what the dump's schema is. */
  schemaVersion: { id: number; name: string };
  laurelVersion: string;
  /** server_version of the source and `pg_dump --version`: pg_restore must be at least as new as the latter. */
  serverVersion: string;
  pgDumpVersion: string;
  /** The dump names these roles (owners, grants); a restore needs the same names. */
  roles: DbRoles;
  dumpFormat: "pg_dump custom (-Fc)";
}

export interface BackupManifest extends BackupHeader {
  encryption: { scheme: "age-encryption.org/v1"; recipients: string[] };
  /** The plaintext pg_dump archive (without the header line). */
  dump: { bytes: number; sha256: string };
  /** The encrypted file as stored: checked before anything is decrypted. */
  file: { name: string; bytes: number; sha256: string };
}

/** `laurel-<database>-<UTC time to the millisecond>`: sorts by time among one database's backups. */
export function backupStem(database: string, at: Date): string {
  return `laurel-${database}-${at.toISOString().replace(/[:.]/g, "-")}`;
}

export function headerLine(header: BackupHeader): Buffer {
  return Buffer.from(`${BACKUP_FORMAT} ${JSON.stringify(header)}\n`, "utf8");
}

/** Fields of the header that the outer manifest must repeat exactly. */
const SEALED: (keyof BackupHeader)[] = ["format", "createdAt", "database", "schemaVersion", "laurelVersion", "serverVersion", "pgDumpVersion", "roles", "dumpFormat"];

/** Names of the manifest fields that disagree with the sealed header (empty: they agree). */
export function manifestDisagreements(manifest: BackupManifest, header: BackupHeader): string[] {
  return SEALED.filter((key) => JSON.stringify(manifest[key]) !== JSON.stringify(header[key]));
}

/**
 * Passes bytes through after taking the first line off as the header (at most 64 KiB, or it is not
 * ours); `header()` answers once the line has been read. Throws BackupError on anything else.
 */
export class HeaderSplitter extends Transform {
  #buffered: Buffer[] = [];
  #seen = 0;
  #header: BackupHeader | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.#header) return done(null, chunk);
    const newline = chunk.indexOf(0x0a);
    if (newline < 0) {
      this.#buffered.push(chunk);
      this.#seen += chunk.length;
      return done(this.#seen > 65_536 ? new BackupError("the decrypted file does not start with a Laurel backup header") : null);
    }
    const line = Buffer.concat([...this.#buffered, chunk.subarray(0, newline)]).toString("utf8");
    this.#buffered = [];
    try {
      this.#header = parseHeader(line);
    } catch (error) {
      return done(error as Error);
    }
    done(null, chunk.subarray(newline + 1));
  }

  override _flush(done: TransformCallback): void {
    done(this.#header ? null : new BackupError("the decrypted file ended before its Laurel backup header"));
  }

  header(): BackupHeader {
    if (!this.#header) throw new BackupError("no backup header was read");
    return this.#header;
  }
}

function parseHeader(line: string): BackupHeader {
  if (!line.startsWith(`${BACKUP_FORMAT} `)) throw new BackupError(`the decrypted file is not a ${BACKUP_FORMAT} backup`);
  const header = JSON.parse(line.slice(BACKUP_FORMAT.length + 1)) as BackupHeader;
  if (header.format !== BACKUP_FORMAT) throw new BackupError(`the backup header says format ${String(header.format)}`);
  return header;
}

/** Reads and shape-checks `<stem>.manifest.json`. */
export async function readManifest(manifestPath: string): Promise<BackupManifest> {
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(await readFile(manifestPath, "utf8")) as BackupManifest;
  } catch (error) {
    throw new BackupError(`cannot read the manifest ${manifestPath}: ${(error as Error).message}`);
  }
  if (manifest.format !== BACKUP_FORMAT) throw new BackupError(`${manifestPath} is not a ${BACKUP_FORMAT} manifest`);
  if (!/^[0-9a-f]{64}$/.test(manifest.file?.sha256 ?? "") || !Number.isInteger(manifest.file?.bytes)) {
    throw new BackupError(`${manifestPath} carries no sha256 and size of the encrypted file`);
  }
  return manifest;
}

/** sha256 (hex) and length of a file, streamed. */
export async function digestFile(file: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), bytes };
}

/** Counts and hashes what flows through it. */
export class Digesting extends Transform {
  readonly hash = createHash("sha256");
  bytes = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }
}

/** Laurel's version, from the package.json two folders above this module (src/ and dist/ alike). */
export async function laurelVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

/** A backup or restore that cannot go on, for a reason the operator can act on (printed without a stack). */
export class BackupError extends Error {
  override name = "BackupError";
}
