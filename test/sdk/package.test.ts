// The SDK as a partner gets it: `npm run sdk:pack` makes a tarball; installed into a project of its own,
// it type-checks and talks to a running Laurel with nothing of this repository around it.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import net from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packSdk } from "../../src/sdk/pack.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, type TestTenant } from "../helpers/factories.js";

const run = promisify(execFile);
let app: TestApp;
let t: TestTenant;
let project: string;
beforeAll(async () => {
  app = await startTestApp();
  t = await signUpTenant(app, "Partner Test College");
  project = await mkdtemp(path.join(tmpdir(), "laurel-partner-"));
  const tarball = await packSdk(project);
  const installed = path.join(project, "node_modules/@laurel/sdk");
  await mkdir(installed, { recursive: true });
  await run("tar", ["xzf", tarball, "-C", installed, "--strip-components=1"]);
  // The package's one (type-only) dependency, as npm would install it beside it.
  await mkdir(path.join(project, "node_modules/@graphql-typed-document-node"), { recursive: true });
  await symlink(path.resolve("node_modules/@graphql-typed-document-node/core"), path.join(project, "node_modules/@graphql-typed-document-node/core"));
  await mkdir(path.join(project, "node_modules/@types"), { recursive: true });
  await symlink(path.resolve("node_modules/@types/node"), path.join(project, "node_modules/@types/node"));
  await writeFile(path.join(project, "package.json"), JSON.stringify({ name: "partner", type: "module", private: true }));
}, 120_000);
afterAll(async () => {
  await app.close();
  await rm(project, { recursive: true, force: true });
});

describe("the packed SDK", () => {
  it("type-checks in a partner's TypeScript project, and catches a wrong variable", async () => {
    const good = `import { createLaurelClient, MembersDocument, LaurelRequestError } from "@laurel/sdk";
const laurel = createLaurelClient({ url: "http://localhost/graphql", token: "lrk_x" });
export async function count(): Promise<number | undefined> {
  try { const { tenant } = await laurel.request(MembersDocument, { first: 20 }); return tenant.members?.totalCount; }
  catch (e) { if (e instanceof LaurelRequestError) console.error(e.code); throw e; }
}\n`;
    await writeFile(path.join(project, "good.ts"), good);
    await writeFile(path.join(project, "bad.ts"), good.replace("{ first: 20 }", '{ first: "twenty" }'));
    const tsc = path.resolve("node_modules/typescript/bin/tsc");
    const flags = ["--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022", "--lib", "es2022,dom"];
    await run(process.execPath, [tsc, ...flags, "good.ts"], { cwd: project });
    const bad = await run(process.execPath, [tsc, ...flags, "bad.ts"], { cwd: project }).then(() => null, (e: { stdout: string }) => e.stdout);
    expect(bad).toMatch(/bad\.ts.*not assignable to type 'number'/s);
  }, 120_000);

  it("type-checks every TypeScript example of the README as pasted", async () => {
    const readme = await readFile("README.md", "utf8");
    const examples = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(examples.length).toBeGreaterThanOrEqual(2);
    const files = examples.map((_, i) => `readme-${i}.ts`);
    await Promise.all(examples.map((code, i) => writeFile(path.join(project, files[i]!), `${code}\nexport {};\n`)));
    const tsc = path.resolve("node_modules/typescript/bin/tsc");
    const flags = ["--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022", "--lib", "es2022,dom", "--types", "node"];
    const result = await run(process.execPath, [tsc, ...flags, ...files], { cwd: project }).then(() => "", (e: { stdout: string }) => e.stdout);
    expect(result).toBe("");
  }, 120_000);

  it("runs as plain JavaScript against a live server", async () => {
    await writeFile(
      path.join(project, "members.mjs"),
      `import { createLaurelClient, MembersDocument } from "@laurel/sdk";
const laurel = createLaurelClient({ url: process.argv[2], token: process.argv[3] });
const { tenant } = await laurel.request(MembersDocument, { first: 5 });
console.log(JSON.stringify({ total: tenant.members.totalCount }));\n`,
    );
    const { stdout } = await run(process.execPath, ["members.mjs", app.graphqlUrl, t.token], { cwd: project });
    expect(JSON.parse(stdout)).toEqual({ total: 1 });
    const denied = await run(process.execPath, ["-e", `import("@laurel/sdk").then(async ({ createLaurelClient, MembersDocument }) => {
      try { await createLaurelClient({ url: "${app.graphqlUrl}" }).request(MembersDocument, { first: 1 }); } catch (e) { console.log(e.name, e.code); } })`], { cwd: project });
    expect(denied.stdout.trim()).toBe("LaurelRequestError UNAUTHENTICATED");
  }, 60_000);
});

describe("the SDK when nothing answers", () => {
  it("throws LaurelRequestError with code NETWORK_ERROR, as transport failures are documented to", async () => {
    const { createLaurelClient, LaurelRequestError, MembersDocument } = await import("../../src/sdk/index.js");
    const closed = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const failure = await createLaurelClient({ url: `http://127.0.0.1:${closed}/graphql`, token: "lrk_x" })
      .request(MembersDocument, { first: 1 })
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(LaurelRequestError);
    expect(failure).toMatchObject({ status: 0, code: "NETWORK_ERROR", message: expect.stringContaining("ECONNREFUSED") });
  });
});
