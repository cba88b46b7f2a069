// `npm run analytics:rebuild -- --tenant <uuid>` (repeatable) or `-- --all`: recomputes tenants'
// engagement aggregates from their raw rows (rebuild_engagement_analytics, sql/021), for use after a
// migration or to check the incremental ones, then folds the deltas written meanwhile. Connects with
// DATABASE_URL acting as the owner role, as `npm run db:migrate` and the worker's queue do; never migrates.
import type pg from "pg";
import { loadConfig, StartupError } from "../../config.js";
import { ownerPool } from "../../db/migrate.js";
import { waitForDatabase } from "../../startup.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const USAGE = "usage: npm run analytics:rebuild -- --tenant <uuid> [--tenant <uuid> ...] | --all";

/** Row counts rebuild_engagement_analytics() returns (its jsonb, sql/021). */
interface Rebuilt {
  credentials: number;
  firstTouches: number;
  eventRollups: number;
  cohortRollups: number;
  latencyRollups: number;
  deliveryRollups: number;
}

/** The tenants named on the command line, or "all"; throws a one-line UsageError otherwise. */
function parseArguments(args: string[]): string[] | "all" {
  const tenants: string[] = [];
  let all = false;
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i]!.split("=", 2) as [string, string?];
    if (flag === "--all" && inline === undefined) all = true;
    else if (flag === "--tenant") {
      const value = inline ?? args[++i];
      if (!value || !UUID.test(value)) throw new UsageError(`--tenant needs a tenant id (a uuid), got ${value ? `"${value}"` : "nothing"}`);
      tenants.push(value.toLowerCase());
    } else throw new UsageError(`unknown option ${args[i]}`);
  }
  if (all === Boolean(tenants.length)) throw new UsageError(all ? "give --all or --tenant, not both" : "name a tenant (--tenant <uuid>) or --all");
  return all ? "all" : [...new Set(tenants)];
}

class UsageError extends Error {}

/**
 * Every tenant's id, in order. The owner sees no tenant but the transaction's own, so the listing is
 * read as the gatekeeper (which the owner may become; sql/README.md), in a read-only transaction.
 */
async function allTenants(pool: pg.Pool, gatekeeper: string): Promise<string[]> {
  const client = await pool.connect();
  try {
    await client.query(`begin read only; set local role "${gatekeeper}"`);
    const { rows } = await client.query<{ id: string }>("select id from public.tenants order by id");
    await client.query("commit");
    return rows.map((r) => r.id);
  } finally {
    client.release();
  }
}

/**
 * Tenants whose raw engagement events have begun to expire (retention, sql/045), with the instant before
 * which they may be gone: a rebuild recounts raw rows only, so it would take expired events out of totals.
 */
async function expiredTenants(pool: pg.Pool, gatekeeper: string, tenants: string[]): Promise<Map<string, Date>> {
  const client = await pool.connect();
  try {
    await client.query(`begin read only; set local role "${gatekeeper}"`);
    const { rows } = await client.query<{ id: string; since: Date }>(
      "select id, engagement_raw_since as since from public.tenants where id = any($1::uuid[]) and engagement_raw_since is not null",
      [tenants],
    );
    await client.query("commit");
    return new Map(rows.map((r) => [r.id, r.since]));
  } finally {
    client.release();
  }
}

const count = (n: number) => n.toLocaleString("en-US");
const peakRssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);

/** Rebuilds one tenant, folds its deltas, and returns the line to print. Throws for an unknown tenant. */
async function rebuildTenant(pool: pg.Pool, tenantId: string): Promise<string> {
  const started = process.hrtime.bigint();
  let rebuilt: Rebuilt;
  try {
    const { rows } = await pool.query<{ r: Rebuilt }>("select rebuild_engagement_analytics($1) as r", [tenantId]);
    rebuilt = rows[0]!.r;
  } catch (error) {
    if ((error as { code?: string }).code === "P0002") throw new StartupError(`no tenant ${tenantId} in this database`);
    throw error;
  }
  const { rows } = await pool.query<{ n: string }>("select compact_engagement_analytics($1) as n", [tenantId]);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return (
    `tenant ${tenantId}: ${count(rebuilt.credentials)} credentials, ${count(rebuilt.firstTouches)} first touches; ` +
    `rollup rows ${count(rebuilt.eventRollups)} event, ${count(rebuilt.cohortRollups)} cohort, ${count(rebuilt.latencyRollups)} latency, ` +
    `${count(rebuilt.deliveryRollups)} delivery; ${count(Number(rows[0]!.n))} deltas folded; ${seconds.toFixed(2)} s; peak RSS ${peakRssMb()} MB`
  );
}

async function main(): Promise<void> {
  const wanted = parseArguments(process.argv.slice(2));
  const config = loadConfig();
  if (!config.databaseUrl) {
    throw new StartupError("needs DATABASE_URL (the embedded demo's aggregates are kept by its own server; its migrations rebuild them)");
  }
  // One short retry: an operator runs this by hand, a database that is down is worth saying at once.
  await waitForDatabase(config.databaseUrl, (line) => console.error(line), [1_000]);
  const pool = await ownerPool(config.databaseUrl, config.roles.owner, 1);
  try {
    const tenants = wanted === "all" ? await allTenants(pool, config.roles.gatekeeper) : wanted;
    if (!tenants.length) console.log("no tenants: nothing to rebuild");
    const expired = await expiredTenants(pool, config.roles.gatekeeper, tenants);
    for (const tenantId of tenants) {
      const since = expired.get(tenantId);
      if (since) console.log(`tenant ${tenantId}: skipped: its raw engagement events before ${since.toISOString()} have expired, and a rebuild from raw rows would drop them from its totals`);
      else console.log(await rebuildTenant(pool, tenantId));
    }
  } finally {
    await pool.end();
  }
}

await main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    console.error(`analytics:rebuild: ${error.message}\n${USAGE}`);
    process.exit(2);
  }
  const known = error instanceof StartupError || typeof (error as { code?: unknown })?.code === "string";
  const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
  if (known) console.error(`analytics:rebuild: ${message}`);
  else console.error("analytics:rebuild failed:", error);
  process.exit(1);
});
