// Start-up explains itself: the real entry points, started as an operator would, refuse in one line
// (no stack) where nothing could work, and warn in one line where only a demo is fine.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActivateTemplateDocument, CreateTemplateDocument, IssueCredentialDocument } from "../../src/sdk/generated.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant } from "../helpers/factories.js";
import { TEST_ENV } from "../helpers/env.js";

const repo = new URL("../../", import.meta.url).pathname;
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
  // One signing key, sealed under the tests' key-encryption key (version 1).
  const tenant = await signUpTenant(app, "Sealed College");
  const template = await tenant.owner.request(CreateTemplateDocument, { kind: "BADGE", content: { name: "Sealed", description: "A badge.", criteriaNarrative: "Do it." } });
  if (template.createTemplate.__typename !== "Template") throw new Error("template");
  await tenant.owner.request(ActivateTemplateDocument, { id: template.createTemplate.id });
  const issued = await tenant.owner.request(IssueCredentialDocument, { input: { templateId: template.createTemplate.id, recipient: { email: "sealed@example.test" } } });
  expect(issued.issueCredential.__typename).toBe("Credential");
});

afterAll(async () => {
  await app?.close();
});

/** Runs an entry point until it exits, or until `ready` shows (then stops it); returns what it printed. */
function start(script: string, env: NodeJS.ProcessEnv, ready?: RegExp): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", script], { cwd: repo, env: { ...process.env, PORT: "0", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const read = (d: Buffer) => {
      output += d;
      if (ready?.test(output) && child.exitCode === null) child.kill("SIGTERM");
    };
    child.stdout.on("data", read);
    child.stderr.on("data", read);
    child.on("exit", (code) => resolve({ code, output }));
  });
}

const real = () => ({ ...TEST_ENV, DATABASE_URL: app.db.adminUrl });
const otherKek = `2:${randomBytes(32).toString("base64")}`;

function refusedWith(result: { code: number | null; output: string }, line: string) {
  expect(result.code, result.output).toBe(1);
  const lines = result.output.trim().split("\n");
  expect(lines.at(-1)).toContain(`Laurel cannot start: ${line}`);
  expect(result.output).not.toMatch(/^\s+at /m); // no stack trace
}

describe("starting on a real PostgreSQL", () => {
  it("refuses without LAUREL_KEKS, server and worker alike", async () => {
    for (const script of ["src/main.ts", "src/worker.ts"]) {
      refusedWith(await start(script, { ...real(), LAUREL_KEKS: "" }), "LAUREL_KEKS is not set");
    }
  });

  it("refuses when stored secrets are sealed under a key-encryption key version no longer configured", async () => {
    const result = await start("src/main.ts", { ...real(), LAUREL_KEKS: otherKek });
    refusedWith(
      result,
      // The tenant's data keys (sealed personal data, issue 13) are wrapped under the KEK too, so they count.
      "stored secrets are sealed under key-encryption key version 1, which LAUREL_KEKS no longer has (2 data keys under version 1, 1 signing key under version 1): add that key back (LAUREL_KEKS=<new>,<old>), then reseal",
    );
    // With the old key back beside the new one, it starts.
    const both = await start("src/main.ts", { ...real(), LAUREL_KEKS: `${otherKek},${TEST_ENV.LAUREL_KEKS}` }, /listening on/);
    expect(both.output).toContain("listening on");
  });

  it("refuses a PUBLIC_URL on http or an IP address in production, and warns in one line otherwise", async () => {
    refusedWith(
      await start("src/main.ts", { ...real(), NODE_ENV: "production", PUBLIC_URL: "http://203.0.113.7:4000" }),
      "PUBLIC_URL http://203.0.113.7:4000 uses http, not https and names an IP address, not a domain",
    );
    refusedWith(await start("src/worker.ts", { ...real(), NODE_ENV: "production", PUBLIC_URL: "https://127.0.0.1" }), "PUBLIC_URL https://127.0.0.1 names an IP address, not a domain");
    const demo = await start("src/main.ts", { ...real(), NODE_ENV: "development", PUBLIC_URL: "http://credentials.example.edu" }, /listening on/);
    const warnings = demo.output.split("\n").filter((l) => l.startsWith("warning:"));
    expect(warnings).toEqual([expect.stringContaining("PUBLIC_URL http://credentials.example.edu uses http, not https")]);
    // Production behind a proxy it trusts (or with LAUREL_TLS_CERT): nothing to warn about. With neither,
    // every request carrying a secret would be refused (lib/transit.ts), which start-up says.
    const fine = await start("src/main.ts", { ...real(), NODE_ENV: "production", PUBLIC_URL: "https://credentials.example.edu", LAUREL_TRUST_PROXY: "127.0.0.1" }, /listening on/);
    expect(fine.output).not.toContain("warning:");
    const unprotected = await start("src/main.ts", { ...real(), NODE_ENV: "production", PUBLIC_URL: "https://credentials.example.edu" }, /listening on/);
    expect(unprotected.output.split("\n").filter((l) => l.startsWith("warning:"))).toEqual([expect.stringContaining("will be refused with HTTPS_REQUIRED")]);
  }, 90_000); // five start-ups

  it("says in one line that the database cannot be reached, after a short retry", async () => {
    const result = await start("src/main.ts", { ...real(), DATABASE_URL: "postgres://postgres@127.0.0.1:1/laurel" });
    refusedWith(result, "cannot reach PostgreSQL at 127.0.0.1:1/laurel: connection refused (is PostgreSQL running there?)");
    expect(result.output).toContain("is not reachable yet");
  }, 60_000);

  it("names a malformed setting instead of printing a stack", async () => {
    refusedWith(await start("src/main.ts", { ...real(), LAUREL_KEKS: "1:short" }), "LAUREL_KEKS entries must look like <version>:<base64 of 32 bytes>");
  });
});
