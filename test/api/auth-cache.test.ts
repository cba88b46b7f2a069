// Verified tokens are remembered for AUTH_CACHE_TTL_MS (modules/auth/auth-cache.ts): no lookup before
// every request, and a revoked key or a signed-out session stops working everywhere within that time:
// at once on the server that made the change, within the lifetime on another server process.
import { spawn, type ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAuthenticator } from "../../src/modules/auth/auth-cache.js";
import { LogOutDocument, RevokeApiKeyDocument, ViewerDocument } from "../../src/sdk/generated.js";
import { createLaurelClient, LaurelRequestError, type LaurelClient } from "../../src/sdk/index.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { TEST_ENV } from "../helpers/env.js";
import { createKey, signUpTenant, type TestTenant } from "../helpers/factories.js";

const TTL_MS = 1_500;
let app: TestApp;
let t: TestTenant;
let second: ChildProcess;
let secondUrl: string;
beforeAll(async () => {
  app = await startTestApp();
  t = await signUpTenant(app, "Cache College");
  // A second server process on the same database, as behind a load balancer.
  const env = { ...process.env, ...TEST_ENV, DATABASE_URL: app.db.adminUrl, PORT: "0", AUTH_CACHE_TTL_MS: String(TTL_MS), NODE_ENV: "test" };
  second = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], { cwd: new URL("../../", import.meta.url).pathname, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  second.stdout!.on("data", (d) => (output += d));
  second.stderr!.on("data", (d) => (output += d));
  secondUrl = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const m = /listening on (http:\/\/\S+)/.exec(output);
      if (m) (clearInterval(timer), resolve(`${m[1]}/graphql`));
    }, 50);
    second.on("exit", (code) => (clearInterval(timer), reject(new Error(`second server exited with ${code}:\n${output}`))));
  });
}, 60_000);
afterAll(async () => {
  if (second && second.exitCode === null) second.kill("SIGKILL");
  await app.close();
});

const onSecond = (token: string): LaurelClient => createLaurelClient({ url: secondUrl, token });
async function refused(client: LaurelClient): Promise<boolean> {
  const error = await client.request(ViewerDocument).then(() => null, (e: unknown) => e);
  if (error && !(error instanceof LaurelRequestError)) throw error;
  return (error as LaurelRequestError | null)?.code === "UNAUTHENTICATED";
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("the authentication cache", () => {
  it("answers from memory within its lifetime, and asks again after it", async () => {
    const key = await createKey(app, t.owner, ["read"]);
    let clock = 1_000_000;
    const auth = createAuthenticator(app.database.sql, { ttlMs: 5_000, now: () => clock });
    const header = `Bearer ${key.secret}`;
    expect(await auth.authenticate(header)).toMatchObject({ kind: "apiKey", tenantId: t.tenantId });
    await app.db.admin`update api_keys set revoked_at = now() where tenant_id = ${t.tenantId} and name = 'test key'`;
    clock += 4_999;
    expect((await auth.authenticate(header)).kind).toBe("apiKey"); // remembered: no lookup
    clock += 2;
    await expect(auth.authenticate(header)).rejects.toMatchObject({ extensions: { code: "UNAUTHENTICATED" } });
    expect(auth.size).toBe(0);
  });

  it("never remembers a failure, an anonymous caller, or the token itself", async () => {
    const auth = createAuthenticator(app.database.sql, { ttlMs: 60_000 });
    await expect(auth.authenticate("Bearer lrk_not-a-key")).rejects.toMatchObject({ extensions: { code: "UNAUTHENTICATED" } });
    expect((await auth.authenticate(null)).kind).toBe("anonymous");
    expect(auth.size).toBe(0);
    const key = await createKey(app, t.owner, ["read"], "remembered key");
    await auth.authenticate(`Bearer ${key.secret}`);
    expect(auth.size).toBe(1);
  });

  it("stops a revoked key at once on the server that revoked it, and within its lifetime on another process", async () => {
    const key = await createKey(app, t.owner, ["read"], "revoked everywhere");
    const there = onSecond(key.secret);
    expect(await refused(there)).toBe(false); // now remembered by the second process
    expect(await refused(key.client)).toBe(false);
    const revoked = await t.owner.request(RevokeApiKeyDocument, { id: key.id });
    expect(revoked.revokeApiKey.__typename).toBe("ApiKey");
    expect(await refused(key.client)).toBe(true);
    await sleep(TTL_MS + 300);
    expect(await refused(there)).toBe(true);
  });

  it("ends a signed-out session everywhere within its lifetime", async () => {
    const member = await signUpTenant(app, "Signed Out Ltd");
    const there = onSecond(member.token);
    expect(await refused(there)).toBe(false);
    await member.owner.request(LogOutDocument);
    expect(await refused(member.owner)).toBe(true);
    await sleep(TTL_MS + 300);
    expect(await refused(there)).toBe(true);
  });
});
