// Issue 9, item 7 at the SQL level: the analytics rollups (sql/021) equal a straightforward SQL over the
// raw rows, for the whole tenant and random 15-minute aligned ranges, in several tenant time zones,
// after compaction, after a rebuild, and after the raw events are gone. Also the calendar pieces the
// readers rely on: analytics_cover() counts every instant of a range exactly once, and
// analytics_buckets() are the zone's own hours, days, weeks and months.
import { DateTime } from "luxon";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UpdateTenantDocument } from "../../src/sdk/generated.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import {
  EVERYTHING,
  binUpper,
  buildWorld,
  clockHours,
  clockRuns,
  describeRange,
  diffMeasures,
  exactPercentile,
  percentileFromHistogram,
  randomRanges,
  rollupCohort,
  rollupDelivery,
  rollupEvents,
  rollupEventsOfGrain,
  rollupLatency,
  rollupSeries,
  rollupSnapshot,
  seededRng,
  totalOf,
  truthCohort,
  truthDelivery,
  truthEvents,
  truthLatency,
  truthLatencySeconds,
  truthSeries,
  type Range,
  type Rng,
  type Sql,
  type World,
  type WorldTenant,
} from "./setup.js";

let app: TestApp;
let rng: Rng;
let world: World;
const started = Date.now();

beforeAll(async () => {
  app = await startTestApp();
  rng = seededRng();
  world = await buildWorld(app, rng);
  console.log(`analytics world built in ${Date.now() - started} ms: ${world.sent} events sent`);
}, 120_000);
afterAll(async () => {
  await app?.close();
  console.log(`aggregates.test.ts total ${Date.now() - started} ms`);
});

const seedNote = () => `seed ${rng.seed} (ANALYTICS_SEED=${rng.seed})`;

/** Raw and rollups read in one snapshot, so nothing written in between can tell them apart. */
const snapshot = <T>(work: (tx: Sql) => Promise<T>) => app.db.admin.begin("isolation level repeatable read", (tx) => work(tx)) as Promise<T>;

async function compareRanges(label: string, tenant: WorldTenant, ranges: Range[]): Promise<string[]> {
  return snapshot(async (tx) => {
    const problems: string[] = [];
    for (const r of ranges) {
      const pairs = [
        ["events", await truthEvents(tx, tenant.tenantId, r), await rollupEvents(tx, tenant.tenantId, r)],
        ["cohort", await truthCohort(tx, tenant.tenantId, r), await rollupCohort(tx, tenant.tenantId, r)],
        ["latency", await truthLatency(tx, tenant.tenantId, r), await rollupLatency(tx, tenant.tenantId, r)],
        ["delivery", await truthDelivery(tx, tenant.tenantId, r), await rollupDelivery(tx, tenant.tenantId, r)],
      ] as const;
      for (const [measure, truth, rolled] of pairs) {
        const diff = diffMeasures(truth, rolled);
        if (diff.length) problems.push(`${label} ${measure} ${describeRange(r)}:\n  ${diff.join("\n  ")}`);
      }
    }
    return problems;
  });
}

const expectNoProblems = (problems: string[]) => expect(problems, `${seedNote()}\n${problems.join("\n")}`).toEqual([]);

/** Ranges that start or end on the tenant zone's day and month boundaries near the data. */
async function zoneAlignedRanges(zone: string): Promise<Range[]> {
  const [row] = await app.db.admin<{ d0: Date; d1: Date; m0: Date; m1: Date; m2: Date }[]>`
    select date_trunc('day', now(), ${zone}) as d0,
           (date_trunc('day', now() at time zone ${zone}) + interval '1 day') at time zone ${zone} as d1,
           date_trunc('month', now(), ${zone}) as m0,
           (date_trunc('month', now() at time zone ${zone}) - interval '2 months') at time zone ${zone} as m1,
           (date_trunc('month', now() at time zone ${zone}) + interval '1 month') at time zone ${zone} as m2`;
  const { d0, d1, m0, m1, m2 } = row!;
  const h = 3600_000;
  return [
    { from: new Date(d0.getTime() - 24 * h), to: d1 },
    { from: d0, to: new Date(d0.getTime() + 45 * 60_000) },
    { from: m1, to: m0 },
    { from: m1, to: d1 },
    { from: new Date(m1.getTime() - 15 * 60_000), to: new Date(m2.getTime() + 15 * 60_000) },
    { from: m0, to: m2 },
  ].filter((r) => r.to > r.from);
}

describe("rollups equal the raw rows", () => {
  it("every grain alone gives the tenant's totals, for both tenants", async () => {
    const problems = await snapshot(async (tx) => {
      const out: string[] = [];
      for (const t of [world.a, world.b]) {
        const truth = await truthEvents(tx, t.tenantId, EVERYTHING);
        for (const grain of ["s", "d", "m"] as const) {
          const diff = diffMeasures(truth, await rollupEventsOfGrain(tx, t.tenantId, grain));
          if (diff.length) out.push(`${t === world.a ? "A" : "B"} grain ${grain}:\n  ${diff.join("\n  ")}`);
        }
        // Every dimension partitions all events.
        const total = totalOf(truth, 0, "t");
        for (const d of ["*", "j", "c", "n", "d", "f", "l"]) if (totalOf(truth, 0, d) !== total) out.push(`dimension ${d} does not sum to ${total}`);
      }
      return out;
    });
    expectNoProblems(problems);
    const [{ n }] = (await app.db.admin`select count(*)::int as n from engagement_events where tenant_id = ${world.a.tenantId}`) as unknown as [{ n: number }];
    expect(n, seedNote()).toBeGreaterThan(300);
  });

  it("whole tenant and random ranges (UTC), for both tenants", async () => {
    const ranges = [EVERYTHING, ...randomRanges(rng, 12), ...(await zoneAlignedRanges("UTC"))];
    expectNoProblems([...(await compareRanges("A", world.a, ranges)), ...(await compareRanges("B", world.b, [EVERYTHING, ...ranges.slice(1, 6)]))]);
  });

  it("time series per hour, day, week and month in half-hour, 45-minute and DST zones", async () => {
    const now = Date.now();
    const recent: Range = { from: new Date(Math.floor((now - 40 * 3600_000) / 900_000) * 900_000), to: new Date(Math.ceil((now + 3600_000) / 900_000) * 900_000) };
    const problems = await snapshot(async (tx) => {
      const out: string[] = [];
      for (const zone of ["UTC", "America/St_Johns", "Asia/Kathmandu", "Australia/Lord_Howe", "Pacific/Chatham"]) {
        for (const unit of ["hour", "day", "week", "month"]) {
          for (const r of [recent, ...randomRanges(rng, 3).filter((x) => unit !== "hour" || x.to.getTime() - x.from.getTime() < 60 * 86400_000)]) {
            const diff = diffMeasures(await truthSeries(tx, world.a.tenantId, r, unit, zone), await rollupSeries(tx, world.a.tenantId, r, unit, zone));
            if (diff.length) out.push(`${zone} ${unit} ${describeRange(r)}:\n  ${diff.join("\n  ")}`);
          }
        }
      }
      return out;
    });
    expectNoProblems(problems);
  });

  it("latency percentiles read from the histogram are the upper bound of the exact percentile's bin", async () => {
    const problems: string[] = [];
    let measured = 0;
    for (const r of [EVERYTHING, ...randomRanges(rng, 6)]) {
      const hist = await rollupLatency(app.db.admin, world.a.tenantId, r);
      for (const template of [undefined, ...world.a.templates.map((t) => t.id)]) {
        for (const stage of ["v", "s"] as const) {
          const exact = await truthLatencySeconds(app.db.admin, world.a.tenantId, r, stage, template);
          const bins = new Map<number, number>();
          for (const [key, [n]] of hist) {
            const [tpl, st, bin] = key.split("|");
            if (st === stage && (!template || tpl === template)) bins.set(Number(bin), (bins.get(Number(bin)) ?? 0) + n!);
          }
          for (const p of [0.5, 0.9]) {
            const e = exactPercentile(exact, p);
            const reported = percentileFromHistogram(bins, p);
            if (e === null || reported === null) {
              if (e !== reported) problems.push(`${describeRange(r)} ${template ?? "all"} ${stage} p${p * 100}: exact ${e} vs histogram ${reported}`);
              continue;
            }
            measured++;
            const expected = binUpper(Math.floor(10 * Math.log(1 + e)));
            if (Math.abs(reported - expected) > 1e-9 || reported < e || reported > e * 1.106 + 0.106) {
              problems.push(`${describeRange(r)} ${template ?? "all"} ${stage} p${p * 100}: exact ${e}, histogram says ${reported}, bin bound ${expected}`);
            }
          }
        }
      }
    }
    expectNoProblems(problems);
    expect(measured, seedNote()).toBeGreaterThan(4);
  });
});

describe("operations on the rollups change no number", () => {
  const fixed = () => [EVERYTHING, ...randomRanges(rng, 8)];

  it("compaction folds every delta and changes no total; deltas after it add up with compacted rows", async () => {
    const ranges = fixed();
    const before = await snapshot((tx) => rollupSnapshot(tx, world.a.tenantId, ranges));
    const [{ folded }] = (await app.db.admin`select compact_engagement_analytics(${world.a.tenantId}) as folded`) as unknown as [{ folded: string }];
    expect(Number(folded), seedNote()).toBeGreaterThan(0);
    const left = await app.db.admin<{ n: number }[]>`
      select (select count(*) from analytics_event_rollups where tenant_id = ${world.a.tenantId} and not compacted)
           + (select count(*) from analytics_cohort_rollups where tenant_id = ${world.a.tenantId} and not compacted)
           + (select count(*) from analytics_latency_rollups where tenant_id = ${world.a.tenantId} and not compacted)
           + (select count(*) from analytics_delivery_rollups where tenant_id = ${world.a.tenantId} and not compacted) as n`;
    expect(Number(left[0]!.n), seedNote()).toBe(0);
    const after = await snapshot((tx) => rollupSnapshot(tx, world.a.tenantId, ranges));
    const problems = Object.keys(before).flatMap((k) => diffMeasures(before[k]!, after[k]!).map((l) => `${k} ${l}`));
    expectNoProblems(problems);
    // B's deltas were not touched by A's compaction.
    const bDeltas = await app.db.admin`select 1 from analytics_event_rollups where tenant_id = ${world.b.tenantId} and not compacted limit 1`;
    expect(bDeltas.length, seedNote()).toBe(1);

    // New events on top of compacted rows (late ones that move first touches, too).
    const creds = rng.sample(world.a.credentials, 10);
    const batch = creds.flatMap((c) => [
      { tenant_id: c.tenantId, credential_id: c.id, type: "page_viewed", channel: "web", ua_class: "mobile", machine: false, occurred_at: new Date(Date.now() - 23.5 * 3600_000).toISOString() },
      { tenant_id: c.tenantId, credential_id: c.id, type: "shared", channel: "social", network: "linkedin", ua_class: "desktop", machine: false, occurred_at: new Date(Date.now() - rng.int(1, 3000) * 1000).toISOString() },
    ]);
    await app.db.admin`select record_engagement_events(${app.db.admin.json(batch as never)})`;
    expectNoProblems(await compareRanges("A after compaction", world.a, ranges));
  });

  it("a new tenant time zone (updateTenant) keeps every total, and ranges in that zone equal the raw rows", async () => {
    for (const zone of ["America/St_Johns", "Asia/Kathmandu", "Australia/Lord_Howe", "UTC"]) {
      const before = await snapshot((tx) => truthEvents(tx, world.a.tenantId, EVERYTHING));
      const res = await world.a.owner.request(UpdateTenantDocument, { input: { timeZone: zone } });
      expect(res.updateTenant.__typename, seedNote()).toBe("Tenant");
      // Day and month rows now start at the zone's midnights.
      const misaligned = await app.db.admin`
        select grain, bucket from analytics_event_rollups
         where tenant_id = ${world.a.tenantId} and ((grain = 'd' and bucket <> date_trunc('day', bucket, ${zone}))
                                                 or (grain = 'm' and bucket <> date_trunc('month', bucket, ${zone})))
        union all
        select grain, bucket from analytics_cohort_rollups
         where tenant_id = ${world.a.tenantId} and ((grain = 'd' and bucket <> date_trunc('day', bucket, ${zone}))
                                                 or (grain = 'm' and bucket <> date_trunc('month', bucket, ${zone})))
        limit 3`;
      expect(misaligned, `${zone} ${seedNote()}`).toEqual([]);
      const grains = await snapshot(async (tx) => Promise.all((["s", "d", "m"] as const).map((g) => rollupEventsOfGrain(tx, world.a.tenantId, g))));
      expectNoProblems(grains.flatMap((g, i) => diffMeasures(before, g).map((l) => `${zone} grain ${"sdm"[i]} ${l}`)));
      expectNoProblems(await compareRanges(`A in ${zone}`, world.a, [EVERYTHING, ...(await zoneAlignedRanges(zone)), ...randomRanges(rng, 3)]));
    }
  });

  it("rebuild_engagement_analytics gives the numbers the incremental path gave", async () => {
    await world.a.owner.request(UpdateTenantDocument, { input: { timeZone: "Asia/Kathmandu" } });
    const ranges = [...fixed(), ...(await zoneAlignedRanges("Asia/Kathmandu"))];
    const before = await snapshot((tx) => rollupSnapshot(tx, world.a.tenantId, ranges));
    const bBefore = await snapshot((tx) => rollupSnapshot(tx, world.b.tenantId, ranges.slice(0, 3)));
    await app.db.admin`select rebuild_engagement_analytics(${world.a.tenantId})`;
    const after = await snapshot((tx) => rollupSnapshot(tx, world.a.tenantId, ranges));
    expectNoProblems(Object.keys(before).flatMap((k) => diffMeasures(before[k]!, after[k]!).map((l) => `${k} ${l}`)));
    const bAfter = await snapshot((tx) => rollupSnapshot(tx, world.b.tenantId, ranges.slice(0, 3)));
    expectNoProblems(Object.keys(bBefore).flatMap((k) => diffMeasures(bBefore[k]!, bAfter[k]!).map((l) => `B ${k} ${l}`)));
    expectNoProblems(await compareRanges("A rebuilt", world.a, ranges));
  });

  it("raw events can expire: deleting them changes no total", async () => {
    const ranges = [...fixed(), ...(await zoneAlignedRanges("Asia/Kathmandu"))];
    const before = await snapshot((tx) => rollupSnapshot(tx, world.a.tenantId, ranges));
    const deleted = await app.db.admin`delete from engagement_events where tenant_id = ${world.a.tenantId}`;
    expect(deleted.count, seedNote()).toBeGreaterThan(300);
    const after = await snapshot((tx) => rollupSnapshot(tx, world.a.tenantId, ranges));
    expectNoProblems(Object.keys(before).flatMap((k) => diffMeasures(before[k]!, after[k]!).map((l) => `${k} ${l}`)));
    // And compaction over a tenant whose raw events are gone still changes nothing.
    await app.db.admin`select compact_engagement_analytics(${world.a.tenantId})`;
    const compacted = await snapshot((tx) => rollupSnapshot(tx, world.a.tenantId, ranges));
    expectNoProblems(Object.keys(before).flatMap((k) => diffMeasures(before[k]!, compacted[k]!).map((l) => `compacted ${k} ${l}`)));
  });
});

// ---------------------------------------------------------------------------------------------
// Calendar pieces: pure checks of analytics_cover() and analytics_buckets() in many zones.

const CALENDAR_ZONES = ["UTC", "America/St_Johns", "Asia/Kathmandu", "Australia/Lord_Howe", "Pacific/Chatham", "America/Santiago", "Europe/London", "America/Havana"];

/** Ranges in 2026 (a year with every zone's DST changes), 15-minute aligned, 15 minutes to 4 months. */
function calendarRanges(): Range[] {
  const year0 = Date.parse("2026-01-01T00:00:00Z");
  const out: Range[] = [
    { from: new Date("2026-03-25T00:00:00Z"), to: new Date("2026-04-12T00:00:00Z") },
    { from: new Date("2026-09-01T00:00:00Z"), to: new Date("2026-11-10T00:00:00Z") },
  ];
  for (let i = 0; i < 2; i++) {
    const from = year0 + rng.int(0, 360 * 96) * 900_000;
    const len = rng.chance(0.5) ? rng.int(1, 8 * 96) : rng.int(8 * 96, 120 * 96);
    out.push({ from: new Date(from), to: new Date(from + len * 900_000) });
  }
  return out;
}

async function withZone<T>(tenant: WorldTenant, zone: string, work: () => Promise<T>): Promise<T> {
  await app.db.admin`update tenants set time_zone = ${zone} where id = ${tenant.tenantId}`;
  return work();
}

/**
 * Instants that cover() counts other than once inside r, or at all outside it. Each piece counts an
 * interval of instants (bucket functions are monotone), so a miscount starts near a piece's or the
 * range's edge: every minute within two hours of each edge, and every 97 minutes across r and 35 days
 * either side for anything farther.
 */
async function coverMiscounts(tenant: string, zone: string, r: Range, coarsest: string) {
  return app.db.admin<{ at: Date; counted: number; expected: number }[]>`
    with pieces as (select * from analytics_cover(${tenant}, ${r.from}, ${r.to}, ${coarsest})),
    edges as (select lo as e from pieces union select hi from pieces union select ${r.from}::timestamptz union select ${r.to}::timestamptz),
    inst as (
      select g as at from generate_series(${r.from}::timestamptz - interval '35 days', ${r.to}::timestamptz + interval '35 days', interval '97 minutes') g
      union select e + m * interval '1 minute' from edges cross join generate_series(-120, 120) m
      union select e - interval '1 second' from edges
    )
    select i.at, c.counted::int, (i.at >= ${r.from} and i.at < ${r.to})::int as expected
      from inst i
      cross join lateral (
        select count(*) as counted from pieces p
         where analytics_grain_floor(p.grain, i.at, ${zone}) >= p.lo and analytics_grain_floor(p.grain, i.at, ${zone}) < p.hi
           and position(p.grain in ${"mdhs".slice("mdhs".indexOf(coarsest))}) > 0) c
     where c.counted <> (i.at >= ${r.from} and i.at < ${r.to})::int
     order by i.at limit 4`;
}

describe("calendar pieces", () => {
  it("analytics_cover() counts each instant of a range once and nothing outside it, in every zone, from each coarsest grain", async () => {
    const problems: string[] = [];
    for (const zone of CALENDAR_ZONES) {
      await withZone(world.b, zone, async () => {
        for (const r of calendarRanges()) {
          for (const coarsest of ["m", "d", "h", "s"]) {
            const bad = await coverMiscounts(world.b.tenantId, zone, r, coarsest);
            if (bad.length) problems.push(`${zone} ${describeRange(r)} from ${coarsest}: ${bad.map((b) => `${b.at.toISOString()} counted ${b.counted}, expected ${b.expected}`).join("; ")}`);
          }
        }
      });
    }
    await withZone(world.b, "UTC", async () => {});
    expectNoProblems(problems);
  });

  it("analytics_buckets() days, weeks and months are the zone's calendar (DST, half-hour and midnight changes)", async () => {
    const problems = await bucketProblems(["day", "week", "month"]);
    expectNoProblems(problems);
  });

  it("analytics_buckets() hours and partial flags agree with luxon's clock: one local hour at one UTC offset per bucket", async () => {
    const problems: string[] = [];
    const ranges = [
      ...calendarRanges(),
      // Lord Howe: DST ends 2026-04-05 02:00 LHDT (15:00Z), starts 2026-10-04 02:00 LHST (15:30Z); Kathmandu moved to +5:45 on 1986-01-01.
      { from: new Date("2026-04-04T12:00:00Z"), to: new Date("2026-04-04T18:00:00Z") },
      { from: new Date("2026-10-03T13:00:00Z"), to: new Date("2026-10-03T18:00:00Z") },
      { from: new Date("2026-04-04T14:45:00Z"), to: new Date("2026-04-04T15:15:00Z") },
      { from: new Date("1985-12-31T17:00:00Z"), to: new Date("1985-12-31T21:00:00Z") },
    ];
    for (const zone of [...CALENDAR_ZONES, "Asia/Kolkata"]) {
      for (const r of ranges) {
        if (r.to.getTime() - r.from.getTime() > 20 * 86400_000) continue;
        const actual = await app.db.admin<{ lo: Date; hi: Date; partial: boolean }[]>`
          select lo, hi, partial from analytics_buckets(${r.from}, ${r.to}, 'hour', ${zone}) order by idx`;
        const a = actual.map((b) => `${b.lo.toISOString()}..${b.hi.toISOString()}${b.partial ? " partial" : ""}`);
        const e = clockHours(r.from, r.to, zone).map((b) => `${b.lo.toISOString()}..${b.hi.toISOString()}${b.partial ? " partial" : ""}`);
        const at = a.findIndex((x, i) => x !== e[i]);
        if (at >= 0 || a.length !== e.length) {
          const i = at >= 0 ? at : Math.min(a.length, e.length);
          problems.push(`${zone} ${describeRange(r)}: bucket ${i} is ${a[i] ?? "missing"}, luxon's hour is ${e[i] ?? "none"}`);
        }
      }
    }
    expectNoProblems(problems);
  });

  it("analytics_buckets() marks only a range's first and last day, week or month partial, and only when cut", async () => {
    const problems: string[] = [];
    for (const zone of CALENDAR_ZONES) {
      for (const unit of ["day", "week", "month"] as const) {
        for (const r of calendarRanges()) {
          const rows = await app.db.admin<{ lo: Date; hi: Date; partial: boolean }[]>`
            select lo, hi, partial from analytics_buckets(${r.from}, ${r.to}, ${unit}, ${zone}) order by idx`;
          rows.forEach((b, i) => {
            const startsHere = (t: Date) => DateTime.fromJSDate(t, { zone }).startOf(unit).toMillis() === t.getTime();
            const expected = (i === 0 && !startsHere(b.lo)) || (i === rows.length - 1 && !startsHere(b.hi));
            if (b.partial !== expected) problems.push(`${zone} ${unit} ${describeRange(r)}: bucket ${i} ${b.lo.toISOString()}..${b.hi.toISOString()} partial ${b.partial}`);
          });
        }
      }
    }
    expectNoProblems(problems);
  });
});


async function bucketProblems(units: string[]): Promise<string[]> {
  const problems: string[] = [];
  for (const zone of [...CALENDAR_ZONES, "Asia/Kolkata"]) {
    for (const unit of units) {
      for (const r of calendarRanges()) {
        if (unit === "hour" && r.to.getTime() - r.from.getTime() > 80 * 86400_000) r.to = new Date(r.from.getTime() + 80 * 86400_000);
        const actual = await app.db.admin<{ lo: Date; hi: Date; partial: boolean }[]>`
          select lo, hi, partial from analytics_buckets(${r.from}, ${r.to}, ${unit}, ${zone}) order by idx`;
        const a = actual.map((b) => `${b.lo.toISOString()}..${b.hi.toISOString()}${b.partial ? " partial" : ""}`);
        const e = clockRuns(r.from, r.to, zone, unit).map((b) => `${b.lo.toISOString()}..${b.hi.toISOString()}${b.partial ? " partial" : ""}`);
        const at = a.findIndex((x, i) => x !== e[i]);
        if (at >= 0 || a.length !== e.length) {
          const i = at >= 0 ? at : Math.min(a.length, e.length);
          problems.push(`${zone} ${unit} ${describeRange(r)}: bucket ${i} is ${a[i] ?? "missing"}, luxon's ${unit} is ${e[i] ?? "none"} (${a.length} vs ${e.length} buckets)`);
        }
      }
    }
  }
  return problems;
}
