// The README's first command, as a new user runs it: `npm start` with no DATABASE_URL starts Laurel on
// an embedded PGlite, migrates it, seeds a demo tenant once, prints a working API key, survives a restart.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  ActivateTemplateDocument,
  CreateTemplateDocument,
  EmailMessagesDocument,
  ExportTenantDocument,
  IssueCredentialDocument,
  LogInDocument,
  TenantDocument,
  ViewerDocument,
} from "../../src/sdk/generated.js";
import { createLaurelClient } from "../../src/sdk/index.js";

const root = new URL("../../", import.meta.url).pathname;
const children: ChildProcess[] = [];
let dataRoot: string;

async function start(dataDir: string): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: "0", LAUREL_DATA_DIR: dataDir };
  delete env.DATABASE_URL;
  delete env.LAUREL_KEKS;
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const m = /Demo (?:API key|tenant already exists)/.test(output) && /listening on (http:\/\/\S+)/.exec(output);
      if (m) {
        clearInterval(timer);
        resolve(m[1]!);
      }
    }, 100);
    child.on("exit", (code) => {
      clearInterval(timer);
      reject(new Error(`exited with ${code}:\n${output}`));
    });
  });
  return { child, url, output: () => output };
}

async function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.once("exit", (code) => resolve(code));
    child.kill("SIGTERM");
  });
}

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  if (dataRoot) await rm(dataRoot, { recursive: true, force: true });
});

describe("npm start without DATABASE_URL", () => {
  it("runs on embedded PostgreSQL with a demo tenant and key, and keeps its data across restarts", async () => {
    dataRoot = await mkdtemp(path.join(tmpdir(), "laurel-embedded-"));
    const dataDir = path.join(dataRoot, "data");
    const first = await start(dataDir);
    expect(first.output()).toContain(`embedded PostgreSQL (PGlite) in ${path.join(dataDir, "pglite")}`);
    expect(first.output()).toMatch(/GraphiQL: http:\/\/127\.0\.0\.1:\d+\/graphql/);
    const printed = /Demo API key[^\n]*\n\s+(lrk_\S+)/.exec(first.output())![1]!;
    // Everything the demo keeps is inside LAUREL_DATA_DIR, nothing beside it.
    const saved = (await readFile(path.join(dataDir, "demo-api-key.txt"), "utf8")).trim();
    expect(saved).toBe(printed);
    expect((await readdir(dataDir)).sort()).toEqual(["demo-api-key.txt", "demo-kek.txt", "pglite"]);
    expect(await readdir(dataRoot)).toEqual(["data"]);
    const client = createLaurelClient({ url: `${first.url}/graphql`, token: printed });
    const { viewer } = await client.request(ViewerDocument);
    expect(viewer).toMatchObject({ kind: "API_KEY", tenant: { name: "Demo University", slug: "demo" } });
    // The README's first credential, on the embedded database (one PGlite session underneath).
    const template = await client.request(CreateTemplateDocument, { kind: "BADGE", content: { name: "First Badge", description: "Yours.", criteriaNarrative: "Try it." } });
    if (template.createTemplate.__typename !== "Template") throw new Error("template");
    await client.request(ActivateTemplateDocument, { id: template.createTemplate.id });
    const issued = await client.request(IssueCredentialDocument, { input: { templateId: template.createTemplate.id, recipient: { email: "ada@example.com" } } });
    expect(issued.issueCredential.__typename).toBe("Credential");
    if (issued.issueCredential.__typename !== "Credential") return;
    const report = await fetch(`${first.url}/verify`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(issued.issueCredential.verifiableCredential) });
    expect((await report.json()).verified).toBe(true);
    // No RESEND_API_KEY: the worker inside npm start stores the email in the demo outbox; nothing is sent.
    let inbox: { status: string; provider: string | null; subject: string | null; html: string | null }[] = [];
    for (let i = 0; i < 300 && !inbox.some((m) => m.status === "stored"); i++) {
      await new Promise((r) => setTimeout(r, 100));
      inbox = (await client.request(EmailMessagesDocument, { first: 10 })).tenant!.emailMessages!.edges.map((e) => e.node).filter((m) => m.subject !== undefined);
    }
    const email = inbox.find((m) => m.status === "stored");
    expect(email, `no stored email in the demo outbox: ${JSON.stringify(inbox)}\n${first.output().slice(-2000)}`).toMatchObject({ provider: "log", subject: expect.stringContaining("First Badge") });
    expect(email!.html).toContain("/credentials/");
    // A tenant export needs a real PostgreSQL: the demo's owner gets a typed refusal, and the demo keeps answering.
    const password = /Sign in as demo@laurel\.local \/ (\S+)/.exec(first.output())![1]!;
    const session = await createLaurelClient({ url: `${first.url}/graphql` }).request(LogInDocument, { input: { email: "demo@laurel.local", password } });
    if (session.logIn.__typename !== "SessionPayload") throw new Error(JSON.stringify(session.logIn));
    const owner = createLaurelClient({ url: `${first.url}/graphql`, token: session.logIn.token });
    const { exportTenant } = await owner.request(ExportTenantDocument);
    expect(exportTenant).toMatchObject({ __typename: "TenantExportUnavailableError", message: expect.stringMatching(/real PostgreSQL/) });
    expect((await owner.request(TenantDocument)).tenant.name).toBe("Demo University");
    // The queue shares the demo's pool, which has its error handlers: no warning buries the demo's key.
    expect(first.output()).not.toMatch(/error handlers|wpeh/);
    expect(await stop(first.child)).toBe(0);

    const second = await start(dataDir);
    expect(second.output()).toContain("Demo tenant already exists");
    expect(second.output()).not.toContain("applied 001");
    const again = createLaurelClient({ url: `${second.url}/graphql`, token: printed });
    expect((await again.request(TenantDocument)).tenant.name).toBe("Demo University");
    expect(await stop(second.child)).toBe(0);

    // LAUREL_DATA_DIR used to name the database folder itself, with the key files in its parent: such a
    // folder keeps its database and gets its keys copied inside, so its signing key still opens.
    const legacy = path.join(dataDir, "pglite");
    const third = await start(legacy);
    expect(third.output()).toContain(`embedded PostgreSQL (PGlite) in ${legacy}`);
    expect(third.output()).toContain("Demo tenant already exists");
    expect((await readFile(path.join(legacy, "demo-kek.txt"), "utf8")).trim()).toBe((await readFile(path.join(dataDir, "demo-kek.txt"), "utf8")).trim());
    const legacyClient = createLaurelClient({ url: `${third.url}/graphql`, token: printed });
    const reissued = await legacyClient.request(IssueCredentialDocument, { input: { templateId: template.createTemplate.id, recipient: { email: "grace@example.com" } } });
    expect(reissued.issueCredential.__typename).toBe("Credential");
    expect(await stop(third.child)).toBe(0);
  }, 180_000);
});
