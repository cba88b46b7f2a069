// LAUREL_SERVER_PROCESSES=2 (issue 11, point 7): one supervisor that migrates and runs the worker, two
// server processes sharing the port. Requests are answered by both, a server process that dies is
// replaced, and SIGTERM stops all of them, exit 0, nothing left running or listening.
import { spawn, type ChildProcess } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { TEST_ENV } from "../helpers/env.js";

const repo = new URL("../../", import.meta.url).pathname;
let db: TestDatabase;
let supervisor: ChildProcess;
let output = "";
let url: string;

/** Laurel's processes whose environment names this database: the supervisor and its server processes (not tsx's esbuild). */
async function processesUsing(databaseUrl: string): Promise<number[]> {
  const found: number[] = [];
  for (const pid of (await readdir("/proc")).filter((p) => /^\d+$/.test(p))) {
    const environ = await readFile(`/proc/${pid}/environ`, "utf8").catch(() => "");
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (environ.split("\0").includes(`DATABASE_URL=${databaseUrl}`) && cmdline.includes("src/main.ts")) found.push(Number(pid));
  }
  return found;
}

const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(false)));
    socket.once("error", () => resolve(true));
  });

const until = async (what: string, check: () => boolean | Promise<boolean>, ms = 30_000) => {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${what} did not happen:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

beforeAll(async () => {
  db = await createTestDatabase();
  const env = { ...process.env, ...TEST_ENV, DATABASE_URL: db.adminUrl, PORT: "0", HOST: "127.0.0.1", LAUREL_SERVER_PROCESSES: "2", NODE_ENV: "test" };
  supervisor = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], { cwd: repo, env, stdio: ["ignore", "pipe", "pipe"] });
  supervisor.stdout!.on("data", (d) => (output += d));
  supervisor.stderr!.on("data", (d) => (output += d));
  await until("two server processes listening", () => (output.match(/Laurel is listening on/g) ?? []).length >= 2, 60_000);
  url = /Laurel is listening on (http:\/\/\S+)/.exec(output)![1]!;
}, 90_000);

afterAll(async () => {
  if (supervisor?.exitCode === null) supervisor.kill("SIGKILL");
  for (const pid of await processesUsing(db.adminUrl)) process.kill(pid, "SIGKILL");
  await new Promise((r) => setTimeout(r, 200));
  await db?.drop();
});

describe("several server processes", () => {
  it("share one port, both listening, with one worker in the supervisor", async () => {
    expect(output).toMatch(/Laurel supervises 2 server processes and runs the worker/);
    expect(output).toMatch(/server process 1 of 2/);
    expect(output).toMatch(/server process 2 of 2/);
    const ports = [...output.matchAll(/Laurel is listening on http:\/\/[^:]+:(\d+)/g)].map((m) => m[1]);
    expect(new Set(ports).size).toBe(1);
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${url}/graphql`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "{ __typename }" }) });
      expect(res.status).toBe(200);
    }
    expect(await processesUsing(db.adminUrl)).toHaveLength(3);
  });

  it("replaces a server process that dies, and keeps answering", async () => {
    const before = await processesUsing(db.adminUrl);
    const victim = before.find((pid) => pid !== supervisor.pid)!;
    process.kill(victim, "SIGKILL");
    await until("a replacement", () => /server process \d+ ended \(SIGKILL\): starting another/.test(output));
    await until("three processes again", async () => (await processesUsing(db.adminUrl)).length === 3 && !(await processesUsing(db.adminUrl)).includes(victim));
    await until("the replacement listening", () => (output.match(/Laurel is listening on/g) ?? []).length >= 3);
    const res = await fetch(`${url}/graphql`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "{ __typename }" }) });
    expect(res.status).toBe(200);
  });

  it("stops them all on SIGTERM, exit 0, with nothing left listening", async () => {
    const port = Number(new URL(url).port);
    const exited = new Promise<number | null>((resolve) => supervisor.once("exit", (code) => resolve(code)));
    supervisor.kill("SIGTERM");
    expect(await exited).toBe(0);
    await until("no process left", async () => (await processesUsing(db.adminUrl)).length === 0);
    expect(await refused(port)).toBe(true);
  });
});
