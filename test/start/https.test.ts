// HTTPS served by Laurel itself (LAUREL_TLS_CERT, LAUREL_TLS_KEY): certificates made here with openssl,
// trusted by the test's client only. The server answers over TLS 1.2+ with HSTS, a renewed certificate is
// picked up on reload (SIGHUP for `npm start`), a bad file is one start-up line, and shutdown stays graceful.
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request, Agent } from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, StartupError } from "../../src/config.js";
import { readTlsCredentials } from "../../src/lib/tls-credentials.js";
import { startServer } from "../../src/server.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { TEST_ENV } from "../helpers/env.js";
import { createKey, signUpTenant } from "../helpers/factories.js";

const repo = new URL("../../", import.meta.url).pathname;
const dir = mkdtempSync(path.join(tmpdir(), "laurel-tls-"));
const file = (name: string) => path.join(dir, name);
let app: TestApp;
let apiKey: string;

/** A self-signed certificate for 127.0.0.1 and localhost, and its key: `<name>.crt`, `<name>.key`. */
function makeCertificate(name: string) {
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
    "-subj", `/CN=${name}.laurel.test`, "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    "-keyout", file(`${name}.key`), "-out", file(`${name}.crt`),
  ], { stdio: "ignore" });
}

beforeAll(async () => {
  makeCertificate("first");
  makeCertificate("second");
  writeFileSync(file("garbage.pem"), "not a PEM file\n");
  app = await startTestApp();
  const tenant = await signUpTenant(app, "Encrypted College");
  apiKey = (await createKey(app, tenant.owner, ["read"])).secret;
}, 60_000);
afterAll(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  protocol: string | null;
  subject: string;
}

/** One request over HTTPS, trusting `ca` only, on a fresh connection (so a reloaded certificate shows). */
function httpsRequest(url: string, ca: Buffer[], init: { method?: string; headers?: Record<string, string>; body?: string; maxVersion?: "TLSv1.1" } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const legacy = init.maxVersion ? { minVersion: "TLSv1" as const, maxVersion: init.maxVersion, ciphers: "DEFAULT@SECLEVEL=0" } : {};
    const req = request(url, { method: init.method ?? "GET", headers: init.headers, ca, agent: false, ...legacy }, (res) => {
      const socket = res.socket as TLSSocket;
      const answer = { status: res.statusCode!, headers: res.headers, protocol: socket.getProtocol(), subject: String(socket.getPeerCertificate().subject?.CN ?? "") };
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ ...answer, body }));
    });
    req.on("error", reject);
    req.end(init.body);
  });
}

const pem = (name: string) => execFileSync("cat", [file(name)]);

describe("Laurel over HTTPS", () => {
  it("answers GraphQL over TLS 1.2 or later with HSTS, and a production API-key request is served", async () => {
    const tls = { certFile: file("first.crt"), keyFile: file("first.key") };
    const running = await startServer({ config: { ...app.config, tls, production: true, publicUrl: "https://credentials.example.test" }, database: app.database }, 0, "127.0.0.1");
    try {
      expect(running.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const answer = await httpsRequest(`${running.url}/graphql`, [pem("first.crt")], {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
        body: JSON.stringify({ query: "{ viewer { kind } }" }),
      });
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body).data.viewer.kind).toBe("API_KEY");
      expect(answer.protocol).toMatch(/^TLSv1\.[23]$/);
      expect(answer.subject).toBe("first.laurel.test");
      expect(answer.headers["strict-transport-security"]).toBe("max-age=63072000; includeSubDomains");
      expect(answer.headers["x-frame-options"]).toBe("DENY");
      // A client that offers TLS 1.1 at most finds no protocol in common.
      await expect(httpsRequest(`${running.url}/healthz`, [pem("first.crt")], { maxVersion: "TLSv1.1" })).rejects.toThrow(/protocol|version/i);
    } finally {
      await running.close();
    }
  });

  it("serves new connections with a renewed certificate on reload, and keeps the old one when the new files are wrong", async () => {
    copyFileSync(file("first.crt"), file("live.crt"));
    copyFileSync(file("first.key"), file("live.key"));
    const tls = { certFile: file("live.crt"), keyFile: file("live.key") };
    const running = await startServer({ config: { ...app.config, tls }, database: app.database }, 0, "127.0.0.1");
    const both = [pem("first.crt"), pem("second.crt")];
    try {
      expect((await httpsRequest(`${running.url}/healthz`, both)).subject).toBe("first.laurel.test");
      copyFileSync(file("second.crt"), file("live.crt"));
      copyFileSync(file("second.key"), file("live.key"));
      expect(running.reloadTls()?.subject).toBe("CN=second.laurel.test");
      expect((await httpsRequest(`${running.url}/healthz`, both)).subject).toBe("second.laurel.test");
      copyFileSync(file("first.key"), file("live.key")); // half-renewed: the key of another certificate
      expect(() => running.reloadTls()).toThrow(StartupError);
      expect((await httpsRequest(`${running.url}/healthz`, both)).subject).toBe("second.laurel.test");
    } finally {
      await running.close();
    }
  });

  it("closes gracefully: an idle keep-alive connection does not hold shutdown up", async () => {
    const tls = { certFile: file("first.crt"), keyFile: file("first.key") };
    const running = await startServer({ config: { ...app.config, tls }, database: app.database }, 0, "127.0.0.1");
    const agent = new Agent({ keepAlive: true, ca: [pem("first.crt")] });
    await new Promise<void>((resolve, reject) => request(`${running.url}/healthz`, { agent }, (res) => res.resume().on("end", resolve)).on("error", reject).end());
    const started = performance.now();
    await running.close(5_000);
    expect(performance.now() - started).toBeLessThan(2_000);
    agent.destroy();
  });

  it("refuses bad certificate files with one clear StartupError each", () => {
    const read = (certFile: string, keyFile: string) => () => readTlsCredentials({ certFile, keyFile });
    expect(read(file("missing.crt"), file("first.key"))).toThrow(`LAUREL_TLS_CERT ${file("missing.crt")} cannot be read: no such file`);
    expect(read(file("garbage.pem"), file("first.key"))).toThrow("holds no PEM certificate");
    expect(read(file("first.crt"), file("garbage.pem"))).toThrow("holds no PEM private key");
    expect(read(file("first.crt"), file("second.key"))).toThrow(/is not the private key of the certificate .*CN=first\.laurel\.test/);
    expect(() => loadConfig({ LAUREL_TLS_CERT: file("first.crt") })).toThrow("LAUREL_TLS_CERT and LAUREL_TLS_KEY go together: LAUREL_TLS_KEY is not set");
    expect(() => loadConfig({ LAUREL_TRUST_PROXY: "true" })).toThrow(/LAUREL_TRUST_PROXY lists the addresses/);
    expect(loadConfig({ LAUREL_TRUST_PROXY: "127.0.0.1, 10.0.0.0/8, ::1" }).trustedProxies).toEqual(["127.0.0.1", "10.0.0.0/8", "::1"]);
  });
});

type Steps = (output: () => string, child: ReturnType<typeof spawn>, exited: Promise<unknown>) => Promise<unknown>;

/** Runs src/main.ts; `steps` sees its output so far and may act on it (by default: waits for the exit); resolves when it exits. */
function runMain(env: NodeJS.ProcessEnv, steps: Steps = (_output, _child, exited) => exited) {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: repo,
    env: { ...process.env, ...TEST_ENV, DATABASE_URL: app.db.adminUrl, PORT: "0", LAUREL_RUN_WORKER: "false", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return steps(() => output, child, exited).finally(() => child.exitCode === null && child.kill("SIGKILL")).then(async () => ({ code: await exited, output }));
}

async function waitFor(output: () => string, pattern: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const match = pattern.exec(output());
    if (match) return match;
    if (Date.now() > until) throw new Error(`timed out waiting for ${pattern}:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("npm start with LAUREL_TLS_CERT and LAUREL_TLS_KEY", () => {
  it("serves HTTPS, reloads the certificate on SIGHUP and stops gracefully on SIGTERM", async () => {
    copyFileSync(file("first.crt"), file("main.crt"));
    copyFileSync(file("first.key"), file("main.key"));
    const env = { NODE_ENV: "production", PUBLIC_URL: "https://credentials.example.edu", LAUREL_TLS_CERT: file("main.crt"), LAUREL_TLS_KEY: file("main.key") };
    const both = [pem("first.crt"), pem("second.crt")];
    const result = await runMain(env, async (output, child) => {
      const [, url] = await waitFor(output, /Laurel is listening on (https:\/\/\S+) /);
      const first = await httpsRequest(`${url}/healthz`, both);
      expect(first.status).toBe(200);
      expect(first.subject).toBe("first.laurel.test");
      expect(first.headers["strict-transport-security"]).toBe("max-age=63072000; includeSubDomains");
      copyFileSync(file("second.crt"), file("main.crt"));
      copyFileSync(file("second.key"), file("main.key"));
      child.kill("SIGHUP");
      await waitFor(output, /SIGHUP: HTTPS now uses the certificate for CN=second\.laurel\.test/, 10_000);
      expect((await httpsRequest(`${url}/healthz`, both)).subject).toBe("second.laurel.test");
      child.kill("SIGTERM");
      await waitFor(output, /^stopped$/m, 20_000);
    });
    expect(result.output).toContain("HTTPS with the certificate for CN=first.laurel.test");
    expect(result.code, result.output).toBe(0);
  }, 90_000);

  it("refuses to start, in one line and before touching the database, when the key is not the certificate's", async () => {
    const result = await runMain({ LAUREL_TLS_CERT: file("first.crt"), LAUREL_TLS_KEY: file("second.key"), DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" });
    expect(result.code, result.output).toBe(1);
    expect(result.output.trim().split("\n").at(-1)).toBe(`Laurel cannot start: LAUREL_TLS_KEY ${file("second.key")} is not the private key of the certificate in LAUREL_TLS_CERT ${file("first.crt")} (CN=first.laurel.test)`);
    expect(result.output).not.toMatch(/^\s+at /m);
  }, 60_000);
});
