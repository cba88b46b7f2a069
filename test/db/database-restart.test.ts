// PostgreSQL restarts under issuance load (fast, then immediate, then an outage of several seconds), on a
// cluster of this test's own. The server and a separate worker must never exit; meanwhile every failed
// request is a typed, retryable SERVICE_UNAVAILABLE (503 with Retry-After); both recover by themselves
// once the database is back; and every credential that was acknowledged exists exactly once, however
// often its idempotency key was retried.
import { spawn, type ChildProcess } from "node:child_process";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActivateTemplateDocument, CreateTemplateDocument, IssueCredentialDocument, SignUpDocument } from "../../src/sdk/generated.js";
import { createLaurelClient, LaurelRequestError, type LaurelClient } from "../../src/sdk/index.js";
import { TEST_ENV } from "../helpers/env.js";
import { startPrivatePostgres, type PrivatePostgres } from "../helpers/private-postgres.js";
import { waitFor } from "../helpers/worker.js";

const repo = new URL("../../", import.meta.url).pathname;
let cluster: PrivatePostgres;
const children: { name: string; child: ChildProcess; output: () => string }[] = [];

function launch(name: string, script: string, env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, ["--import", "tsx", script], { cwd: repo, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const entry = { name, child, output: () => output };
  children.push(entry);
  return entry;
}

beforeAll(async () => {
  cluster = await startPrivatePostgres();
  const root = postgres(cluster.url(), { max: 1, onnotice: () => {} });
  await root.unsafe("create database laurel");
  await root.end();
}, 120_000);

afterAll(async () => {
  for (const { child } of children) if (child.exitCode === null) child.kill("SIGKILL");
  await cluster?.destroy();
});

describe("a database restart under issuance load", () => {
  it("never ends the server or the worker, answers 503 meanwhile, recovers, and loses or duplicates nothing", async () => {
    const env = {
      ...process.env,
      ...TEST_ENV,
      DATABASE_URL: cluster.url("laurel"),
      PORT: "0",
      DATABASE_POOL_SIZE: "4",
      WORKER_POLL_INTERVAL_MS: "200",
      WORKER_HEARTBEAT_MS: "500",
    };
    const server = launch("server", "src/main.ts", env);
    await waitFor(async () => /listening on/.test(server.output()), `the server to listen:\n${server.output()}`, 60_000);
    const worker = launch("worker", "src/worker.ts", { ...env, LAUREL_RUN_WORKER: "true" });
    await waitFor(async () => /worker running/.test(worker.output()), `the worker to run:\n${worker.output()}`, 60_000);
    const url = `${/listening on (http:\/\/\S+)/.exec(server.output())![1]}/graphql`;

    const { signUp } = await createLaurelClient({ url }).request(SignUpDocument, {
      input: { email: "restart@example.test", password: "correct horse battery", name: "Rita", organizationName: "Restart College", organizationSlug: "restart" },
    });
    if (signUp.__typename !== "SessionPayload") throw new Error("sign-up");
    const owner: LaurelClient = createLaurelClient({ url, token: signUp.token });
    const template = await owner.request(CreateTemplateDocument, { kind: "BADGE", content: { name: "Resilience", description: "Kept going.", criteriaNarrative: "Survive a restart." } });
    if (template.createTemplate.__typename !== "Template") throw new Error("template");
    await owner.request(ActivateTemplateDocument, { id: template.createTemplate.id });
    const templateId = template.createTemplate.id;

    // The load: workers issuing one key after another, each retried with the same key until acknowledged.
    const acknowledged = new Map<string, string>();
    const failures = new Map<string, number>();
    let next = 0;
    let running = true;
    const issueUntilAcknowledged = async (key: string) => {
      for (;;) {
        try {
          const { issueCredential } = await owner.request(IssueCredentialDocument, { input: { templateId, idempotencyKey: key, recipient: { email: `${key}@example.test` } } });
          if (issueCredential.__typename !== "Credential") throw new Error(`${key}: ${JSON.stringify(issueCredential)}`);
          acknowledged.set(key, issueCredential.id);
          return;
        } catch (error) {
          const kind = error instanceof LaurelRequestError ? `${error.status} ${error.code}` : `network: ${(error as Error).message}`;
          failures.set(kind, (failures.get(kind) ?? 0) + 1);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    };
    const load = Array.from({ length: 6 }, async () => {
      while (running) await issueUntilAcknowledged(`key-${next++}`);
    });
    const ackedAfter = async (count: number, what: string) => {
      const target = acknowledged.size + count;
      const from = Date.now();
      await waitFor(async () => acknowledged.size >= target, `${count} credentials ${what}`, 90_000).catch((error: Error) => {
        throw new Error(`${error.message}; failures ${JSON.stringify([...failures])}\nserver:\n${server.output().slice(-3000)}\nworker:\n${worker.output().slice(-2000)}`);
      });
      return Date.now() - from;
    };

    await ackedAfter(20, "before any restart");
    const recovery: Record<string, number> = {};
    await cluster.restart("fast");
    recovery.fast = await ackedAfter(10, "after a fast restart");
    await cluster.restart("immediate");
    recovery.immediate = await ackedAfter(10, "after an immediate restart");
    await cluster.stop("fast");
    // While the database is away: a typed, retryable answer with Retry-After, not a masked 500.
    await new Promise((r) => setTimeout(r, 2_000));
    const during = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/graphql-response+json", authorization: `Bearer ${signUp.token}` },
      body: JSON.stringify({ query: "{ tenant { name } }" }),
    });
    const duringBody = (await during.json()) as { errors?: { extensions?: { code?: string } }[] };
    await new Promise((r) => setTimeout(r, 6_000));
    await cluster.start();
    recovery.outage = await ackedAfter(10, "after an 8-second outage");
    running = false;
    await Promise.all(load);

    expect(during.status).toBe(503);
    expect(during.headers.get("retry-after")).toBe("5");
    expect(duringBody.errors?.map((e) => e.extensions?.code)).toEqual(["SERVICE_UNAVAILABLE"]);
    // Every failure the clients saw was the typed, retryable one.
    expect([...failures.keys()]).toEqual(["503 SERVICE_UNAVAILABLE"]);
    for (const { name, child, output } of children) expect(child.exitCode, `${name} exited:\n${output()}`).toBeNull();

    // Exactly once: one credential per acknowledged key, the one that was acknowledged.
    const db = postgres(cluster.url("laurel"), { max: 1, onnotice: () => {} });
    try {
      const rows = await db<{ idempotency_key: string; id: string }[]>`select idempotency_key, id::text from credentials`;
      expect(rows).toHaveLength(acknowledged.size);
      const byKey = new Map(rows.map((r) => [r.idempotency_key, r.id]));
      for (const [key, id] of acknowledged) expect(Buffer.from(id, "base64").toString()).toContain(byKey.get(key));
      // The worker came back too: every credential's email leaves the outbox.
      await waitFor(async () => {
        // Without RESEND_API_KEY the worker stores each message in the outbox: "stored" is its last state.
        const [row] = await db<{ waiting: number }[]>`select count(*)::int as waiting from email_outbox where status not in ('sent', 'stored')`;
        return row!.waiting === 0;
      }, "every email to be sent after the restarts (a job that failed during the outages waits out its backoff)", 180_000).catch(async (error: Error) => {
        const jobs = await db`select id, task_identifier, attempts, run_at, locked_by, locked_at, now() as now, last_error from graphile_worker.jobs`;
        throw new Error(`${error.message}: jobs ${JSON.stringify(jobs)}\nworker:\n${worker.output().slice(-3000)}`);
      });
      const [emails] = await db<{ n: number }[]>`select count(*)::int as n from email_outbox where status in ('sent', 'stored')`;
      expect(emails!.n).toBeGreaterThanOrEqual(acknowledged.size);
    } finally {
      await db.end();
    }
    console.log(
      `database restarts: ${acknowledged.size} credentials acknowledged, ${[...failures.values()].reduce((a, b) => a + b, 0)} retried 503s; ` +
        `first 10 credentials after each restart took ${recovery.fast} ms (fast), ${recovery.immediate} ms (immediate), ${recovery.outage} ms (after an 8 s outage)`,
    );
  }, 420_000);
});
