// The aggregates' upkeep (issue 9, item 7): the worker's compaction folds delta rows into compacted ones
// without changing a total, and `npm run analytics:rebuild`, the compiled command run as an operator
// would, recomputes a tenant from its raw rows to the same totals, and says in one line why it cannot.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { parseCrontab } from "graphile-worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crontab } from "../../src/modules/jobs/tasks.js";
import { withTenantSql } from "../../src/db/tenant-transaction.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { TEST_ENV } from "../helpers/env.js";
import { startTestWorker, waitFor } from "../helpers/worker.js";
import { tenantWithTemplate, type EngagementTenant } from "../engagement/setup.js";

const repo = new URL("../../", import.meta.url).pathname;
let app: TestApp;
let a: EngagementTenant;
let b: EngagementTenant;

/** Stores events as the server's recorder does (the anonymous role, one definer call). */
async function record(events: object[]) {
  const json = JSON.stringify(events);
  await withTenantSql(app.database.sql, { dbRole: app.config.roles.anonymous, tenantId: null, userId: null }, (tx) => tx`select record_engagement_events(${json}::text::jsonb)`);
}

/** A mix of people and machines, late and duplicate events, one recipient without tracking consent. */
async function engage(t: EngagementTenant) {
  const [c1, c2, c3] = [await t.issue(), await t.issue(), await t.issue()];
  await app.db.admin`update recipients set tracking_consent = false where id = ${c3.recipientId}`;
  const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();
  const event = (c: { credentialId: string }, type: string, minutes: number, extra: object = {}) => ({
    tenant_id: t.tenantId, credential_id: c.credentialId, type, channel: "web", ua_class: "desktop", machine: false, occurred_at: ago(minutes), ...extra,
  });
  await record([
    event(c1, "email_opened", 50, { channel: "email", ua_class: "mail_proxy", machine: true }),
    event(c1, "page_viewed", 40),
    event(c1, "page_viewed", 40),
    event(c2, "page_viewed", 30, { ua_class: "mobile" }),
    event(c2, "shared", 20, { channel: "social", network: "x" }),
    event(c3, "page_viewed", 10),
    event(c3, "downloaded", 10, { format: "pdf" }),
  ]);
  // Later batches: a late event that takes the first touch from an earlier one, and a verification.
  await record([event(c2, "page_viewed", 600, { ua_class: "tablet" }), event(c1, "verified", 5, { channel: "api", ua_class: "bot", machine: true })]);
  await record([event(c1, "linkedin_added", 3, { channel: "linkedin", network: "linkedin" })]);
}

/** Every rollup key's summed measures (delta and compacted rows together), keys that sum to zero left out. */
async function totals(tenantId: string): Promise<string[]> {
  const rows = await app.db.admin<{ line: string }[]>`
    select concat_ws(' ', 'event', grain, bucket, dimension, value, type, template_id, machine, sum(events), sum(first_human), sum(first_any)) as line
      from analytics_event_rollups where tenant_id = ${tenantId} group by grain, bucket, dimension, value, type, template_id, machine
    having sum(events) <> 0 or sum(first_human) <> 0 or sum(first_any) <> 0
    union all
    select concat_ws(' ', 'cohort', grain, bucket, template_id, bulk_job_id, locale, status, human_mask, any_mask, sum(credentials))
      from analytics_cohort_rollups where tenant_id = ${tenantId} group by grain, bucket, template_id, bulk_job_id, locale, status, human_mask, any_mask
    having sum(credentials) <> 0
    union all
    select concat_ws(' ', 'latency', grain, bucket, template_id, stage, bin, sum(credentials))
      from analytics_latency_rollups where tenant_id = ${tenantId} group by grain, bucket, template_id, stage, bin
    having sum(credentials) <> 0
    union all
    select concat_ws(' ', 'delivery', grain, bucket, template_id, sender_domain, outcome, sum(messages))
      from analytics_delivery_rollups where tenant_id = ${tenantId} group by grain, bucket, template_id, sender_domain, outcome
    having sum(messages) <> 0`;
  return rows.map((r) => r.line).sort();
}

async function deltas(tenantId: string): Promise<number> {
  const [row] = await app.db.admin<{ n: number }[]>`
    select (select count(*) from analytics_event_rollups where tenant_id = ${tenantId} and not compacted)
         + (select count(*) from analytics_cohort_rollups where tenant_id = ${tenantId} and not compacted)
         + (select count(*) from analytics_latency_rollups where tenant_id = ${tenantId} and not compacted)
         + (select count(*) from analytics_delivery_rollups where tenant_id = ${tenantId} and not compacted) as n`;
  return Number(row!.n);
}

/** Runs a command to its end and returns its exit code and everything it printed. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: repo, env: { ...process.env, ...TEST_ENV, DATABASE_URL: app.db.adminUrl, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("exit", (code) => resolve({ code, output }));
  });
}
/** The compiled command, as `npm run analytics:rebuild` runs it after building. */
const rebuild = (args: string[], env?: NodeJS.ProcessEnv) => run(process.execPath, ["dist/modules/analytics/rebuild-cli.js", ...args], env);
const LINE = /^tenant ([0-9a-f-]{36}): (\d+) credentials, \d+ first touches; rollup rows \d+ event, \d+ cohort, \d+ latency, \d+ delivery; \d+ deltas folded; \d+\.\d\d s; peak RSS \d+ MB$/;

beforeAll(async () => {
  app = await startTestApp();
  a = await tenantWithTemplate(app, "Rebuilt College");
  b = await tenantWithTemplate(app, "Bystander College");
  await engage(a);
  await engage(b);
});
afterAll(() => app?.close());

describe("compaction", () => {
  it("runs every minute from the worker's crontab", () => {
    const items = parseCrontab(crontab({ config: app.config, database: app.database }));
    const compact = items.find((item) => item.task === "analytics_compact")!;
    const minutes = Array.from({ length: 60 }, (_, min) => min).filter((min) => compact.match({ min, hour: 13, date: 9, month: 4, dow: 3 }));
    expect(minutes).toHaveLength(60);
  });

  it("folds every delta row into compacted rows, as the worker's task, with the same totals", async () => {
    const worker = await startTestWorker(app);
    try {
      // The worker first stores the credential emails that issuance queued (moving their delivery outcome).
      const unsent = () => app.db.admin`select 1 from email_outbox where status in ('queued', 'sending')`;
      await waitFor(async () => (await unsent()).length === 0, "the queued emails");
      const before = await Promise.all([totals(a.tenantId), totals(b.tenantId)]);
      expect(before[0].length).toBeGreaterThan(20);
      expect(await deltas(a.tenantId)).toBeGreaterThan(0);
      await app.db.admin`select graphile_worker.add_job('analytics_compact', '{}'::json)`;
      await waitFor(async () => (await deltas(a.tenantId)) === 0 && (await deltas(b.tenantId)) === 0, "the compaction job");
      expect(await Promise.all([totals(a.tenantId), totals(b.tenantId)])).toEqual(before);
    } finally {
      await worker.stop();
    }
    // One compacted row per key: nothing left to fold.
    const [dupes] = await app.db.admin`
      select count(*)::int as n from (select 1 from analytics_event_rollups where tenant_id = ${a.tenantId}
       group by grain, bucket, dimension, value, type, template_id, machine having count(*) > 1) x`;
    expect(dupes!.n).toBe(0);
  });
});

describe("npm run analytics:rebuild", () => {
  it("builds, rebuilds one tenant from its raw rows to the same totals, and says what it did", async () => {
    await engage(a); // fresh deltas beside the compacted rows
    const before = await Promise.all([totals(a.tenantId), totals(b.tenantId)]);
    const result = await run("npm", ["run", "--silent", "analytics:rebuild", "--", "--tenant", a.tenantId]);
    expect(result.code, result.output).toBe(0);
    const lines = result.output.trim().split("\n").filter((l) => l.startsWith("tenant "));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(LINE);
    expect(LINE.exec(lines[0]!)!.slice(1, 3)).toEqual([a.tenantId, "6"]);
    expect(await Promise.all([totals(a.tenantId), totals(b.tenantId)])).toEqual(before);
    expect(await deltas(a.tenantId)).toBe(0);
  }, 240_000);

  it("rebuilds every tenant with --all", async () => {
    const before = await Promise.all([totals(a.tenantId), totals(b.tenantId)]);
    const result = await rebuild(["--all"]);
    expect(result.code, result.output).toBe(0);
    const rebuilt = result.output.trim().split("\n").map((l) => LINE.exec(l)?.[1]);
    expect(rebuilt).toEqual(expect.arrayContaining([a.tenantId, b.tenantId]));
    expect(await Promise.all([totals(a.tenantId), totals(b.tenantId)])).toEqual(before);
  }, 60_000);

  it("refuses an unknown tenant in one line, with a non-zero exit", async () => {
    const unknown = randomUUID();
    const result = await rebuild(["--tenant", unknown]);
    expect(result.code).toBe(1);
    expect(result.output.trim()).toBe(`analytics:rebuild: no tenant ${unknown} in this database`);
  });

  it("says in one line that the database cannot be reached", async () => {
    const result = await rebuild(["--tenant", a.tenantId], { DATABASE_URL: "postgres://postgres@127.0.0.1:1/laurel" });
    expect(result.code).toBe(1);
    expect(result.output.trim().split("\n").at(-1)).toBe(
      "analytics:rebuild: cannot reach PostgreSQL at 127.0.0.1:1/laurel: connection refused (is PostgreSQL running there?)",
    );
    expect(result.output).not.toMatch(/^\s+at /m);
  }, 30_000);

  it("explains its options when they are wrong", async () => {
    for (const args of [[], ["--tenant", "not-a-uuid"], ["--all", "--tenant", a.tenantId], ["--everything"]]) {
      const result = await rebuild(args);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.output).toContain("usage: npm run analytics:rebuild -- --tenant <uuid>");
    }
  });
});
