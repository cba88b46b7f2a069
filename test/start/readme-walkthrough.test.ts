// The README's "Running on a real PostgreSQL" block, run as a shell script: from an empty database to a
// first verified credential. Only what a test must change is changed: its own database name, port, role
// names (exported before the block, as an operator could) and a temporary file for the credential.
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import postgres from "postgres";
import { afterAll, describe, expect, inject, it } from "vitest";
import { TEST_ROLE_ENV, adminUrlFor, testServerUrl } from "../helpers/env.js";

const repo = new URL("../../", import.meta.url).pathname;
const database = `laurel_test_${inject("runId")}_readme`;
let work: string | undefined;

afterAll(async () => {
  const admin = postgres(adminUrlFor(testServerUrl(), "postgres"), { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists "${database}" with (force)`).catch(() => {});
  await admin.end();
  if (work) await rm(work, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

describe("the README's walk-through on a real PostgreSQL", () => {
  it("goes from an empty database to a first verified credential, as written", async () => {
    const readme = await readFile(path.join(repo, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Running on a real PostgreSQL"));
    const block = /```sh\n([\s\S]*?)```/.exec(section)![1]!;
    expect(block).toContain("createdb -h 127.0.0.1 -U postgres laurel\n");
    const port = await freePort();
    work = await mkdtemp(path.join(tmpdir(), "laurel-readme-"));
    const script = block
      .replace("createdb -h 127.0.0.1 -U postgres laurel\n", `createdb -h 127.0.0.1 -U postgres ${database}\n`)
      .replace("@127.0.0.1:5432/laurel ", `@127.0.0.1:5432/${database} `)
      .replaceAll("127.0.0.1:4000", `127.0.0.1:${port}`)
      .replaceAll("ada.json", path.join(work, "ada.json"));
    const roles = Object.entries(TEST_ROLE_ENV)
      .filter(([name]) => name !== "LAUREL_DB_LOGIN_PASSWORD")
      .map(([name, value]) => `export ${name}=${value}`)
      .join("\n");
    // The block leaves the server running in the background, as a reader's shell would: stop it after.
    const shell = `${roles}\nexport PORT=${port}\ntrap 'kill -TERM $(jobs -p) 2>/dev/null; wait' EXIT\n${script}`;
    const child = spawn("bash", ["-c", shell], { cwd: repo, env: { ...process.env, PGHOST: "127.0.0.1" }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code, output).toBe(0);
    const start = output.lastIndexOf('{\n  "verified"');
    expect(start, output).toBeGreaterThanOrEqual(0);
    const report = JSON.parse(output.slice(start, output.indexOf("\n}", start) + 2)) as Record<string, any>;
    expect(report).toMatchObject({ verified: true, issuer: { ok: true, name: "Example University" }, proof: { ok: true }, status: { ok: true, state: "active" } });
    expect(report.credentialId).toMatch(/^https:\/\/credentials\.example\.edu\/issuers\/[0-9a-f-]{36}\/credentials\/[0-9a-f-]{36}$/);
  }, 240_000);
});
