// Monthly engagement partitions are shared by every tenant: one is dropped whole only once every tenant's
// retention has passed it (its per-credential counts kept); until then each tenant's expired rows in it are
// deleted in batches. Two workers running the job at once do the work once.
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ownerPool } from "../../src/db/migrate.js";
import { runRetention, type RetentionReport } from "../../src/modules/retention/sweep.js";
import { UpdateRetentionSettingsDocument } from "../../src/sdk/generated.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { tenantWithTemplate, type EngagementTenant, type Issued } from "../engagement/setup.js";

let app: TestApp;
let owner: pg.Pool;
let a: EngagementTenant;
let b: EngagementTenant;
let aIssued: Issued;
let bIssued: Issued;

async function run(): Promise<RetentionReport | null> {
  const client = await owner.connect();
  try {
    return await runRetention({ config: app.config, database: app.database }, client);
  } finally {
    client.release();
  }
}

/** A partition for the month `monthsAgo` months back, made as ensure_engagement_partitions() makes them (owned by the owner). */
async function partitionFor(monthsAgo: number): Promise<{ name: string; start: Date }> {
  const [m] = await app.db.admin<{ start: Date; name: string }[]>`
    select date_trunc('month', now() - make_interval(months => ${monthsAgo}::integer), 'UTC') as start,
           'engagement_events_' || to_char(date_trunc('month', now() - make_interval(months => ${monthsAgo}::integer), 'UTC') at time zone 'UTC', 'YYYY_MM') as name`;
  await app.db.admin.begin(async (tx) => {
    await tx.unsafe(`set local role "${app.config.roles.owner}"`);
    await tx.unsafe(`create table engagement_partitions.${m!.name} partition of public.engagement_events
                     for values from ('${m!.start.toISOString()}') to ('${new Date(Date.UTC(m!.start.getUTCFullYear(), m!.start.getUTCMonth() + 1)).toISOString()}')`);
  });
  return m!;
}

async function eventsIn(month: { start: Date }, credential: Issued, n: number) {
  await app.db.admin`
    insert into engagement_events (tenant_id, occurred_at, type, template_id, credential_id, recipient_id, channel, ua_class)
    select c.tenant_id, ${month.start}::timestamptz + make_interval(hours => i::integer), 'page_viewed', c.template_id, c.id, c.recipient_id, 'web', 'desktop'
      from credentials c cross join generate_series(1, ${n}::integer) i where c.id = ${credential.credentialId}`;
}

const partitionExists = async (name: string) =>
  (await app.db.admin<{ x: string | null }[]>`select to_regclass(${`engagement_partitions.${name}`}) as x`)[0]!.x !== null;
const expiredCount = async (credential: Issued) =>
  Number((await app.db.admin<{ n: string }[]>`select coalesce(sum(events), 0) as n from engagement_expired_counts where credential_id = ${credential.credentialId}`)[0]!.n);

beforeAll(async () => {
  app = await startTestApp();
  owner = await ownerPool(app.db.adminUrl, app.config.roles.owner, 3);
  a = await tenantWithTemplate(app, "Forgets Soon College");
  b = await tenantWithTemplate(app, "Remembers Long College");
  aIssued = await a.issue();
  bIssued = await b.issue();
});
afterAll(async () => {
  await owner.end();
  await app.close();
});

describe("engagement partitions", () => {
  it("are kept while one tenant keeps longer, that tenant's rows stay and the others' go in batches; then dropped whole", async () => {
    const month = await partitionFor(20);
    await eventsIn(month, aIssued, 30);
    await eventsIn(month, bIssued, 40);
    const keep = await b.owner.request(UpdateRetentionSettingsDocument, { input: { engagementEventMonths: 25 } });
    expect(keep.updateRetentionSettings.__typename).toBe("RetentionSettings");

    const first = await run();
    expect(first?.partitionsDropped).toEqual([]);
    expect(await partitionExists(month.name)).toBe(true);
    const left = await app.db.admin<{ tenant_id: string; n: number }[]>`
      select tenant_id, count(*)::int as n from ${app.db.admin(`engagement_partitions.${month.name}`)} group by 1`;
    expect(left).toEqual([{ tenant_id: b.tenantId, n: 40 }]);
    expect(await expiredCount(aIssued)).toBe(30);

    await b.owner.request(UpdateRetentionSettingsDocument, { input: { engagementEventMonths: 13 } });
    const second = await run();
    expect(second?.partitionsDropped).toEqual([month.name]);
    expect(await partitionExists(month.name)).toBe(false);
    expect(await expiredCount(bIssued)).toBe(40);
    expect(await expiredCount(aIssued)).toBe(30); // not counted twice
    // The default partition is never dropped.
    expect(await partitionExists("engagement_events_default")).toBe(true);
  });

  it("drops a partition older than any retention can reach at once, and two concurrent runs do the work once", async () => {
    const month = await partitionFor(27);
    await eventsIn(month, aIssued, 5);
    const [one, two] = await Promise.all([run(), run()]);
    const reports = [one, two].filter((r) => r !== null);
    expect(reports.length).toBeGreaterThanOrEqual(1);
    expect(reports.flatMap((r) => r!.partitionsDropped)).toEqual([month.name]);
    expect(await partitionExists(month.name)).toBe(false);
    expect(await expiredCount(aIssued)).toBe(35);
    // While another worker holds the run's lock, a run does nothing and says so.
    const holder = await owner.connect();
    try {
      await holder.query("select pg_advisory_lock(7413, 0)");
      expect(await run()).toBeNull();
      await holder.query("select pg_advisory_unlock(7413, 0)");
    } finally {
      holder.release();
    }
    const again = await run();
    expect(again?.partitionsDropped).toEqual([]);
    expect(Object.values(again!.rows).every((n) => n === 0)).toBe(true);
  });
});
