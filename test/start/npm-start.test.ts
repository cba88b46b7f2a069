// `npm start`, the real command: it builds, runs the compiled server on the pinned Node, and a SIGTERM
// sent to npm reaches the server, which stops accepting, finishes the request in flight, stops its
// worker and exits 0 with nothing left listening.
import { spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { TEST_ENV } from "../helpers/env.js";

const repo = new URL("../../", import.meta.url).pathname;
const pinned = JSON.parse(await readFile(new URL("package.json", new URL("../../", import.meta.url)), "utf8")).dependencies.node as string;
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.drop();
});

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(false)));
    socket.once("error", () => resolve(true));
  });
}

/** Processes still running with this database in their environment (the server, had it outlived npm). */
async function processesUsing(url: string): Promise<number[]> {
  const found: number[] = [];
  for (const pid of (await readdir("/proc")).filter((p) => /^\d+$/.test(p))) {
    const environ = await readFile(`/proc/${pid}/environ`, "utf8").catch(() => "");
    if (environ.split("\0").includes(`DATABASE_URL=${url}`)) found.push(Number(pid));
  }
  return found;
}

describe("npm start", () => {
  it("passes SIGTERM to the server, which finishes the request in flight and exits 0", async () => {
    const npm = spawn("npm", ["start"], { cwd: repo, env: { ...process.env, ...TEST_ENV, DATABASE_URL: db.adminUrl, PORT: "0" }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    npm.stdout.on("data", (d) => (output += d));
    npm.stderr.on("data", (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => npm.on("exit", (code) => resolve(code)));
    const until = async (pattern: RegExp) => {
      while (!pattern.test(output)) {
        if (npm.exitCode !== null) throw new Error(`npm start exited with ${npm.exitCode}:\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      return pattern.exec(output)!;
    };
    const url = new URL((await until(/listening on (http:\/\/\S+)/))[1]!);
    expect(output).toContain("tsc -p src"); // built first
    expect(output).toContain(`(node v${pinned})`);
    await until(/queue worker \S+ running/);

    // A request in flight: its body arrives in two parts, the second after the signal.
    let answer = "";
    const response = new Promise<number>((resolve, reject) => {
      const req = http.request(`${url.origin}/graphql`, { method: "POST", headers: { "content-type": "application/json" } }, (res) => {
        res.on("data", (d) => (answer += d));
        res.on("end", () => resolve(res.statusCode!));
      });
      req.on("error", reject);
      req.write('{"query":"{ __typename }"');
      setTimeout(() => void until(/shutting down/).then(() => req.end("}")), 200);
    });
    await new Promise((r) => setTimeout(r, 300));
    npm.kill("SIGTERM");
    await until(/SIGTERM: shutting down/);
    expect(await refused(Number(url.port))).toBe(true); // stopped accepting at once

    expect(await response).toBe(200);
    expect(JSON.parse(answer)).toEqual({ data: { __typename: "Query" } });
    expect(await exited, output).toBe(0);
    expect(output).toContain("stopped");
    expect(await refused(Number(url.port))).toBe(true);
    expect(await processesUsing(db.adminUrl)).toEqual([]);
  }, 180_000);
});
