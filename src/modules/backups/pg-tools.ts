// pg_dump and pg_restore as child processes. The password leaves the connection URL for PGPASSWORD,
// so it is not in the process list; their stderr becomes the error's message.
import { execFile, spawn, type ChildProcessByStdio } from "node:child_process";
import type { Readable } from "node:stream";
import { promisify } from "node:util";
import { BackupError } from "./format.js";

const run = promisify(execFile);

/** The URL without its password, and the environment that carries it instead. */
export function libpqTarget(url: string, applicationName: string): { url: string; env: NodeJS.ProcessEnv } {
  const parsed = new URL(url);
  const password = decodeURIComponent(parsed.password);
  parsed.password = "";
  parsed.searchParams.set("application_name", applicationName);
  return { url: parsed.toString(), env: { ...process.env, ...(password ? { PGPASSWORD: password } : {}) } };
}

/** `pg_dump --version`'s line ("pg_dump (PostgreSQL) 15.20 ..."); BackupError when it is not installed. */
export async function pgDumpVersion(): Promise<string> {
  try {
    return (await run("pg_dump", ["--version"])).stdout.trim();
  } catch (error) {
    throw new BackupError(`pg_dump is not available (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): install PostgreSQL's client programs, the server's major version or newer`);
  }
}

export interface RunningDump {
  stdout: Readable;
  /** Resolves when pg_dump exited 0; rejects with its stderr otherwise. */
  done: Promise<void>;
  /** Stops pg_dump (its reader failed: it would block on a full pipe forever). */
  kill(): void;
}

/**
 * pg_dump of the whole database in custom format (-Fc, compressed), to stdout. Objects keep their
 * owners and grants: the restored database must work with Laurel's roles as it did (definer functions
 * owned by the gatekeeper, column grants), which re-running grants could not reproduce exactly.
 */
export function startDump(adminUrl: string): RunningDump {
  const target = libpqTarget(adminUrl, "laurel-backup");
  const child = spawn("pg_dump", ["--format=custom", "--no-password", `--dbname=${target.url}`], { env: target.env, stdio: ["ignore", "pipe", "pipe"] });
  return { stdout: child.stdout, done: exited(child, "pg_dump"), kill: () => void child.kill("SIGTERM") };
}

/**
 * pg_restore of a custom-format archive into intoUrl, all in one transaction: a failure anywhere
 * leaves the database as empty as it was.
 */
export async function restoreDump(intoUrl: string, archivePath: string): Promise<void> {
  const target = libpqTarget(intoUrl, "laurel-restore");
  const child = spawn("pg_restore", ["--single-transaction", "--exit-on-error", "--no-password", `--dbname=${target.url}`, archivePath], {
    env: target.env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  await exited(child, "pg_restore");
}

function exited(child: ChildProcessByStdio<null, Readable | null, Readable>, name: string): Promise<void> {
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    if (stderr.length < 8_192) stderr += chunk.toString("utf8");
  });
  return new Promise((resolve, reject) => {
    child.on("error", (error: NodeJS.ErrnoException) =>
      reject(new BackupError(`${name} could not start (${error.code ?? error.message}): install PostgreSQL's client programs`)),
    );
    child.on("close", (code, signal) => {
      if (code === 0) resolve();
      else reject(new BackupError(`${name} failed (${signal ?? `exit ${code}`}): ${stderr.trim().split("\n").slice(0, 5).join(" / ") || "no message"}`));
    });
  });
}
