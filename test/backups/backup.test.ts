// Backups end to end (issue 13 part 4): `npm run backup`'s code takes an encrypted backup of a Laurel
// that has issued a credential; `npm run restore`'s code brings it into a new, empty database; a Laurel
// started there verifies the credential, finds the people and exports one. A wrong key, a tampered file
// or manifest and a database that is not empty are refused with nothing restored; the worker's daily
// task keeps the newest N, never the one it just wrote, and a failed dump leaves nothing that counts.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, copyFile, mkdtemp as makeTemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadConfig, type Config } from "../../src/config.js";
import { openDatabase, type Database } from "../../src/db/database.js";
import { readMigrations } from "../../src/db/migrate.js";
import { BackupError, digestFile, readManifest, type BackupManifest } from "../../src/modules/backups/format.js";
import { generateKeyPair, type KeyPair } from "../../src/modules/backups/keys.js";
import { restoreBackup } from "../../src/modules/backups/restore.js";
import { scheduledBackup } from "../../src/modules/backups/task.js";
import { createTasks, crontab } from "../../src/modules/jobs/tasks.js";
import { parseCrontab } from "graphile-worker";
import { startQueueWorker, type QueueWorker } from "../../src/modules/jobs/worker.js";
import { startServer, type RunningServer } from "../../src/server.js";
import { createLaurelClient } from "../../src/sdk/index.js";
import {
  CarryOutDataSubjectRequestDocument,
  CreateRecipientDocument,
  DataSubjectRequestDocument,
  FileDataSubjectRequestDocument,
  IssueCredentialDocument,
  RecipientsDocument,
} from "../../src/sdk/generated.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { adminUrlFor, TEST_ENV, TEST_ROLES, testServerUrl } from "../helpers/env.js";
import { activeBadge, signUpTenant, type TestTenant } from "../helpers/factories.js";
import { waitFor } from "../helpers/worker.js";

const ROOT = new URL("../../", import.meta.url).pathname;
const tag = randomBytes(3).toString("hex");
const PERSON = { email: `mirela.vasquez.${tag}@example.test`, name: "Mirela Vásquez-Ødegaard" };
const LISTED = { email: `tobias.listed.${tag}@example.test`, name: "Tobias Listed" };

let source: TestApp;
let a: TestTenant;
let credential: { verifiableCredential: unknown };
let keys: KeyPair;
let dir: string;
let backupPath: string;
let manifest: BackupManifest;
const databases: string[] = [];
const folders: string[] = [];

/** A temporary folder, removed after the file. */
async function mkdtemp(prefix: string): Promise<string> {
  const folder = await makeTemp(prefix);
  folders.push(folder);
  return folder;
}

/** Runs one of the backup command lines as `npm run` would (through tsx instead of the build). */
function cli(script: string, args: string[], env: Record<string, string>): Promise<{ code: number; out: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, ["--import", "tsx", path.join(ROOT, "src/modules/backups", script), ...args], { cwd: ROOT, env: { ...process.env, ...TEST_ENV, ...env } }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    ),
  );
}

/** A new, empty database (as CREATE DATABASE from template0 makes it), dropped after the file. */
async function emptyDatabase(): Promise<string> {
  const name = `laurel_test_${inject("runId")}_r${randomBytes(4).toString("hex")}`;
  const root = postgres(adminUrlFor(testServerUrl(), "postgres"), { max: 1, onnotice: () => {} });
  await root.unsafe(`create database "${name}" template template0`);
  await root.end();
  databases.push(name);
  return adminUrlFor(testServerUrl(), name);
}

/** Tables in the database's non-system schemas: 0 for one nothing was restored into. */
async function tableCount(url: string): Promise<number> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from pg_tables where schemaname not in ('pg_catalog', 'information_schema')`;
  await sql.end();
  return row!.n;
}

const restore = (file: string, intoUrl: string, identity = keys.identity) =>
  restoreBackup({ file, intoUrl, identities: [identity], roles: TEST_ROLES, loginPassword: TEST_ENV.LAUREL_DB_LOGIN_PASSWORD });

beforeAll(async () => {
  source = await startTestApp({ poolSize: 3 });
  a = await signUpTenant(source, "Backed-Up College");
  const templateId = await activeBadge(a.owner, { name: "Archival Practice", description: "Keeps records safe.", criteriaNarrative: "Restored a backup." });
  const { issueCredential } = await a.owner.request(IssueCredentialDocument, { input: { templateId, recipient: PERSON } });
  if (issueCredential.__typename !== "Credential") throw new Error(JSON.stringify(issueCredential));
  credential = issueCredential;
  const { createRecipient } = await a.owner.request(CreateRecipientDocument, { input: LISTED });
  expect(createRecipient.__typename).toBe("Recipient");
  keys = await generateKeyPair();
  dir = await mkdtemp(path.join(os.tmpdir(), "laurel-backups-"));
  const taken = await cli("backup-cli.ts", ["--out", dir], { DATABASE_URL: source.db.adminUrl, LAUREL_BACKUP_RECIPIENTS: keys.recipient });
  expect(taken.code, taken.out).toBe(0);
  backupPath = taken.out.split("\n").find((l) => l.endsWith(".pgdump.age"))!;
  manifest = await readManifest(backupPath.replace(/\.pgdump\.age$/, ".manifest.json"));
}, 90_000);

afterAll(async () => {
  await source?.close();
  const root = postgres(adminUrlFor(testServerUrl(), "postgres"), { max: 1, onnotice: () => {} });
  for (const name of databases) await root.unsafe(`drop database if exists "${name}" with (force)`);
  await root.end();
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

describe("a backup", () => {
  it("is encrypted, and its manifest names the schema version, the database and the file's sha256", async () => {
    const bytes = await readFile(backupPath);
    expect(bytes.subarray(0, 21).toString()).toBe("age-encryption.org/v1");
    // Neither pg_dump's magic nor anyone's address is readable in the file.
    expect(bytes.includes(Buffer.from("PGDMP"))).toBe(false);
    expect(bytes.includes(Buffer.from(PERSON.email))).toBe(false);
    const migrations = await readMigrations();
    expect(manifest.schemaVersion).toEqual({ id: migrations.length, name: migrations.at(-1)!.name });
    expect(manifest).toMatchObject({ database: source.db.name, roles: TEST_ROLES, dumpFormat: "pg_dump custom (-Fc)", encryption: { recipients: [keys.recipient] } });
    expect(await digestFile(backupPath)).toEqual({ sha256: manifest.file.sha256, bytes: manifest.file.bytes });
    expect(Date.now() - new Date(manifest.createdAt).getTime()).toBeLessThan(120_000);
  });

  describe("restored into a new database", () => {
    let config: Config;
    let database: Database;
    let server: RunningServer;
    let worker: QueueWorker;
    beforeAll(async () => {
      const intoUrl = await emptyDatabase();
      const restored = await cli("restore-cli.ts", [backupPath, "--into", intoUrl], { LAUREL_BACKUP_IDENTITY: keys.identity });
      expect(restored.code, restored.out).toBe(0);
      expect(restored.out).toMatch(/^Restored .* \(schema \d{3}_/m);
      // The same keys and public address as the Laurel that was backed up: a restore replaces a deployment.
      const base = loadConfig({ ...TEST_ENV, DATABASE_URL: intoUrl, NODE_ENV: "test" });
      config = { ...base, port: 0, poolSize: 3, publicUrl: source.config.publicUrl, queue: { ...base.queue, concurrency: 2, pollIntervalMs: 100 } };
      database = await openDatabase(config);
      server = await startServer({ config, database }, 0, "127.0.0.1");
      const app = { config, database };
      worker = await startQueueWorker(app, createTasks(app, { bulk: { log: () => {} } }));
    }, 90_000);
    afterAll(async () => {
      await server?.close();
      await worker?.stop();
      await database?.close();
    });

    it("verifies the credential issued before the backup", async () => {
      const res = await fetch(`${server.url}/verify`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(credential.verifiableCredential) });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ verified: true, proof: { ok: true } });
    });

    it("finds the people, and carries out an export of one", async () => {
      const owner = createLaurelClient({ url: `${server.url}/graphql`, token: a.token });
      for (const person of [PERSON, LISTED]) {
        const { tenant } = await owner.request(RecipientsDocument, { first: 5, search: person.email });
        expect(tenant.recipients?.edges.map((e) => e?.node && { email: e.node.email, name: e.node.name })).toEqual([person]);
      }
      const { fileDataSubjectRequest: filed } = await owner.request(FileDataSubjectRequestDocument, {
        input: { kind: "access", email: PERSON.email, identityVerification: { method: "document_checked" } },
      });
      if (filed.__typename !== "DataSubjectRequest") throw new Error(JSON.stringify(filed));
      await owner.request(CarryOutDataSubjectRequestDocument, { id: filed.id });
      const done = await waitFor(async () => {
        const { node } = await owner.request(DataSubjectRequestDocument, { id: filed.id });
        return node?.__typename === "DataSubjectRequest" && node.state === "completed" ? node : null;
      }, "the export to complete", 30_000);
      expect(done.outcome).toMatch(/^Exported: 1 credential\(s\)/);
      const zip = await fetch(done.export!.url.replace(/^https?:\/\/[^/]+/, server.url));
      expect(zip.status).toBe(200);
      expect(zip.headers.get("content-type")).toBe("application/zip");
    }, 45_000);
  });

  it("cannot be decrypted with another key, and nothing is restored", async () => {
    const intoUrl = await emptyDatabase();
    const other = await generateKeyPair();
    const error = await restore(backupPath, intoUrl, other.identity).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackupError);
    expect((error as Error).message).toMatch(/cannot decrypt .*: no identity matched/);
    expect(await tableCount(intoUrl)).toBe(0);
  });

  it("is refused when tampered with, before decrypting, and when its manifest is rewritten to match or edited", async () => {
    const intoUrl = await emptyDatabase();
    const copyDir = await mkdtemp(path.join(os.tmpdir(), "laurel-tampered-"));
    const copy = path.join(copyDir, path.basename(backupPath));
    const copyManifest = copy.replace(/\.pgdump\.age$/, ".manifest.json");
    const bytes = await readFile(backupPath);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    await writeFile(copy, bytes);
    await copyFile(backupPath.replace(/\.pgdump\.age$/, ".manifest.json"), copyManifest);
    // With the right key: the checksum refuses it before age is asked.
    await expect(restore(copy, intoUrl)).rejects.toThrow(/does not match its manifest .* refusing to decrypt it/);

    // Whoever rewrites the manifest's checksum too still meets age's authentication.
    const matching = { ...manifest, file: { ...manifest.file, ...(await digestFile(copy)) } };
    await writeFile(copyManifest, JSON.stringify(matching));
    await expect(restore(copy, intoUrl)).rejects.toThrow(/cannot decrypt/);

    // An intact file with an edited manifest disagrees with the header sealed inside it.
    await writeFile(copy, await readFile(backupPath));
    await writeFile(copyManifest, JSON.stringify({ ...manifest, createdAt: "2020-01-01T00:00:00.000Z" }));
    await expect(restore(copy, intoUrl)).rejects.toThrow(/disagrees with the header sealed inside the backup \(createdAt\)/);
    expect(await tableCount(intoUrl)).toBe(0);
  });

  it("is not restored into a database that is not empty", async () => {
    const before = await source.db.admin<{ n: number }[]>`select count(*)::int as n from tenants`;
    const refused = await cli("restore-cli.ts", [backupPath, "--into", source.db.adminUrl], { LAUREL_BACKUP_IDENTITY: keys.identity });
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(/is not empty \(.*\): restore only into a new, empty database/);
    expect(await source.db.admin`select count(*)::int as n from tenants`).toEqual(before);
  });
});

describe("the worker's daily backup", () => {
  const workerApp = (backupDir: string, keep: number) => ({
    config: { ...source.config, backup: { dir: backupDir, keep, recipients: [keys.recipient], identity: undefined } },
    database: source.database,
  });
  const counted = async (d: string) => (await readdir(d)).filter((n) => n.endsWith(".manifest.json")).sort();

  it("is on the worker's crontab, daily with at most 3 attempts, only when LAUREL_BACKUP_DIR is set", () => {
    const [item] = parseCrontab(crontab(workerApp("/var/backups/laurel", 7))).filter((c) => c.task === "backup_database");
    expect(item).toMatchObject({ task: "backup_database", options: { maxAttempts: 3, backfillPeriod: 86_400_000 } });
    expect(crontab({ config: source.config, database: source.database })).not.toContain("backup_database");
  });

  it("keeps the newest N and never the one it just wrote; a failed dump leaves nothing that counts", async () => {
    const folder = await mkdtemp(path.join(os.tmpdir(), "laurel-daily-"));
    const lines: string[] = [];
    for (let i = 0; i < 3; i++) await scheduledBackup(workerApp(folder, 2), (l) => lines.push(l));
    const afterThree = await counted(folder);
    expect(afterThree).toHaveLength(2);
    expect((await readdir(folder)).filter((n) => n.endsWith(".pgdump.age"))).toHaveLength(2);
    expect(lines.filter((l) => l.startsWith("kept 2 of")).length).toBe(2);
    expect(lines.at(-1)).toMatch(/removed laurel-/);

    // A backup from a clock far ahead sorts first: with keep 1, the one just written still stays.
    const future = afterThree[1]!.replace(/\d{4}-\d{2}-\d{2}T/, "2099-01-01T");
    await copyFile(path.join(folder, afterThree[1]!), path.join(folder, future));
    await copyFile(path.join(folder, afterThree[1]!.replace(".manifest.json", ".pgdump.age")), path.join(folder, future.replace(".manifest.json", ".pgdump.age")));
    await scheduledBackup(workerApp(folder, 1), () => {});
    const afterFuture = await counted(folder);
    expect(afterFuture).toHaveLength(2);
    expect(afterFuture).toContain(future);
    expect(afterFuture.filter((n) => !afterThree.includes(n) && n !== future)).toHaveLength(1);

    // pg_dump dying half-way still ends its output; age would seal what came: the exit status decides.
    const bin = await mkdtemp(path.join(os.tmpdir(), "laurel-fake-pg-"));
    await writeFile(path.join(bin, "pg_dump"), '#!/bin/sh\n[ "$1" = "--version" ] && { echo "pg_dump (PostgreSQL) 15"; exit 0; }\nprintf "PGDMP half"; echo "pg_dump: error: connection lost" >&2; exit 1\n');
    await chmod(path.join(bin, "pg_dump"), 0o755);
    const before = (await readdir(folder)).sort();
    const savedPath = process.env.PATH;
    process.env.PATH = `${bin}:${savedPath}`;
    try {
      await expect(scheduledBackup(workerApp(folder, 1), () => {})).rejects.toThrow(/pg_dump failed \(exit 1\): pg_dump: error: connection lost/);
    } finally {
      process.env.PATH = savedPath;
    }
    expect((await readdir(folder)).sort()).toEqual(before);
  }, 60_000);
});
