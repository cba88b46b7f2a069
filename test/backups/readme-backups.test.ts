// The README's "Backups" block, run as a shell script through npm (keygen, backup, restore), as the
// walk-through test does for "Running on a real PostgreSQL". Only what a test must change is changed:
// its own database names, role names (exported first, as an operator could) and a temporary folder
// for the key and the backups.
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import postgres from "postgres";
import { afterAll, describe, expect, inject, it } from "vitest";
import { readMigrations } from "../../src/db/migrate.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { TEST_ROLE_ENV, adminUrlFor, testServerUrl } from "../helpers/env.js";

const repo = new URL("../../", import.meta.url).pathname;
const restored = `laurel_test_${inject("runId")}_readme_restored`;
let source: TestDatabase | undefined;
let work: string | undefined;

afterAll(async () => {
  await source?.drop();
  const admin = postgres(adminUrlFor(testServerUrl(), "postgres"), { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists "${restored}" with (force)`).catch(() => {});
  await admin.end();
  if (work) await rm(work, { recursive: true, force: true });
});

describe("the README's Backups block", () => {
  it("makes a key pair, takes a backup and restores it into a new database, as written", async () => {
    const readme = await readFile(path.join(repo, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Backups"));
    const block = /```sh\n([\s\S]*?)```/.exec(section)![1]!;
    source = await createTestDatabase();
    work = await mkdtemp(path.join(tmpdir(), "laurel-readme-backups-"));
    const identity = path.join(work, "laurel-backup-identity.txt");
    const folder = path.join(work, "backups");
    const script = block
      .replaceAll("@127.0.0.1:5432/laurel ", `@127.0.0.1:5432/${source.name} `)
      .replaceAll("laurel_restored", restored)
      .replaceAll("laurel-backup-identity.txt", identity)
      .replaceAll(" backups", ` ${folder}`)
      .replaceAll("(ls backups/", `(ls ${folder}/`);
    expect(script).not.toMatch(/ backups\b|\/laurel |laurel_restored/);
    const roles = Object.entries(TEST_ROLE_ENV).map(([name, value]) => `export ${name}=${value}`).join("\n");
    const child = spawn("bash", ["-euo", "pipefail", "-c", `${roles}\n${script}`], { cwd: repo, env: { ...process.env, PGHOST: "127.0.0.1" }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code, output).toBe(0);
    expect(output).toMatch(/^Public key: age1[0-9a-z]{58}$/m);
    expect(output).toMatch(new RegExp(`^Restored ${source.name} as taken at .* \\(schema \\d{3}_`, "m"));
    expect((await stat(identity)).mode & 0o777).toBe(0o600);
    expect((await readdir(folder)).filter((n) => !n.startsWith(".")).map((n) => n.replace(/^.*(\.pgdump\.age|\.manifest\.json)$/, "$1")).sort()).toEqual([".manifest.json", ".pgdump.age"]);
    const sql = postgres(adminUrlFor(testServerUrl(), restored), { max: 1, onnotice: () => {} });
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from laurel_migrations`;
    await sql.end();
    expect(row!.n).toBe((await readMigrations()).length);
  }, 240_000);
});
