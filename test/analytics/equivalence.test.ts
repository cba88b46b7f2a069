// Issue 9, item 7 through the SDK: every analytics operation, called as the tenant's owner over seeded
// random data (late events, duplicates, concurrent flushes, consent withdrawn mid-way, machines, status
// changes, email outcomes; setup.ts), answers exactly what a straightforward reading of the raw rows
// says under the contract's definitions: funnels (cumulative and direct, rates, groups, filters,
// statuses), time series (every interval, DST / half-hour / 45-minute zones, the previous period),
// breakdowns, top templates, latency percentiles and delivery health; with includeMachine and with
// minimumGroupSize. Any mismatch names the operation, its variables and the seed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DeliveryHealthDocument,
  EngagementBreakdownDocument,
  EngagementFunnelDocument,
  EngagementLatencyDocument,
  EngagementTimeSeriesDocument,
  SetMinimumGroupSizeDocument,
  TopTemplatesDocument,
  UpdateTenantDocument,
  type AnalyticsInterval,
  type BreakdownDimension,
  type CredentialStatus,
  type DeliveryGroupBy,
  type EngagementType,
  type FunnelGroupBy,
  type TopTemplatesMeasure,
} from "../../src/sdk/generated.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import {
  STAGE_BITS,
  TYPES,
  ZERO,
  binUpper,
  buildWorld,
  calendarBuckets,
  credentialFacts,
  eventFacts,
  floorSlot,
  globalId,
  messageFacts,
  randomRanges,
  seededRng,
  truncated,
  type CredFact,
  type EventFact,
  type MessageFact,
  type Range,
  type Rng,
  type World,
} from "./setup.js";

let app: TestApp;
let rng: Rng;
let world: World;
let events: EventFact[];
let creds: CredFact[];
let messages: MessageFact[];
let tenantZone = "UTC";
const started = Date.now();
const calls = { n: 0 };

beforeAll(async () => {
  app = await startTestApp();
  rng = seededRng();
  world = await buildWorld(app, rng);
  [events, creds, messages] = await Promise.all([
    eventFacts(app.db.admin, world.a.tenantId),
    credentialFacts(app.db.admin, world.a.tenantId),
    messageFacts(app.db.admin, world.a.tenantId),
  ]);
}, 120_000);
afterAll(async () => {
  await app?.close();
  console.log(`equivalence.test.ts: ${calls.n} analytics calls, ${Date.now() - started} ms in all`);
});

// ---------------------------------------------------------------------------------------------
// Shared shapes and checks.

const seedNote = () => `seed ${rng.seed} (ANALYTICS_SEED=${rng.seed})`;
const iso = (ms: number) => new Date(ms).toISOString();
const apiRange = (r: Range) => ({ from: r.from.toISOString(), to: r.to.toISOString() });
const inRange = (t: number, r: Range) => t >= r.from.getTime() && t < r.to.getTime();
const templateKey = (u: string) => (u === ZERO ? "" : globalId("Template", u));
const bulkJobKey = (u: string) => (u === ZERO ? "" : globalId("BulkJob", u));
// 1..k-1 distinct credentials are hidden; an empty cell is 0; an event cell with events but no credential is hidden.
const suppressedAt = (count: number, k: number) => k > 1 && count > 0 && count < k;
const eventCellSuppressed = (events: number, credentials: number, k: number) => suppressedAt(credentials, k) || (k > 1 && credentials === 0 && events > 0);
/** GraphQL's EngagementType is the stored type in capitals. */
const up = (t: string) => t.toUpperCase() as EngagementType;

interface Filter {
  templateIds?: string[];
  tag?: string;
  bulkJobId?: string;
  locale?: string;
  includeMachine?: boolean;
}
const apiFilter = (f: Filter) => ({
  ...(f.templateIds ? { templateIds: f.templateIds.map((id) => globalId("Template", id)) } : {}),
  ...(f.tag ? { tag: f.tag } : {}),
  ...(f.bulkJobId ? { bulkJobId: globalId("BulkJob", f.bulkJobId) } : {}),
  ...(f.locale ? { locale: f.locale } : {}),
  ...(f.includeMachine ? { includeMachine: true } : {}),
});
function templateMatches(tpl: string, f: Filter): boolean {
  if (f.templateIds && !f.templateIds.includes(tpl)) return false;
  if (f.tag && !world.a.templates.some((t) => t.id === tpl && t.tags.includes(f.tag!))) return false;
  return true;
}
const eventMatches = (e: EventFact, f: Filter) =>
  templateMatches(e.dims.t, f) && (!f.bulkJobId || e.dims.j === f.bulkJobId) && (!f.locale || e.dims.l === f.locale);

/** Collects mismatches; the test fails once with all of them and the seed. */
class Problems {
  readonly list: string[] = [];
  eq(actual: unknown, expected: unknown, where: string) {
    if (JSON.stringify(actual) !== JSON.stringify(expected)) this.list.push(`${where}: API ${JSON.stringify(actual)} vs raw ${JSON.stringify(expected)}`);
  }
  close(actual: number | null | undefined, expected: number | null, where: string) {
    const ok = expected === null ? actual === null : actual != null && Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected));
    if (!ok) this.list.push(`${where}: API ${actual} vs raw ${expected}`);
  }
  done() {
    expect(this.list.slice(0, 40), `${seedNote()}\n${this.list.length} problems:\n${this.list.slice(0, 40).join("\n")}`).toEqual([]);
  }
}

type Count = { type: string; events: number | null; credentials: number | null; suppressed: boolean };
type Tally = { events: number; credentials: number };
const tally = (): Tally => ({ events: 0, credentials: 0 });

/** An event cell: its numbers, or hidden when its credentials are below k. */
function checkCount(p: Problems, actual: Count | undefined, expected: Tally, k: number, where: string) {
  if (!actual) return p.list.push(`${where}: missing`);
  if (eventCellSuppressed(expected.events, expected.credentials, k)) p.eq([actual.suppressed, actual.events, actual.credentials], [true, null, null], where);
  else p.eq([actual.suppressed, actual.events, actual.credentials], [false, expected.events, expected.credentials], where);
}

/** Adds one event to a per-type tally under the contract: people's events (all with includeMachine), first touches. */
function count(t: Map<string, Tally>, e: EventFact, includeMachine: boolean) {
  const c = t.get(e.type) ?? tally();
  if (includeMachine || !e.machine) c.events++;
  c.credentials += includeMachine ? e.fa : e.fh;
  t.set(e.type, c);
}

const truncCache = new Map<string, Promise<number[]>>();
const eventBucketStarts = (unit: string, zone: string) => {
  const key = `${unit}|${zone}`;
  if (!truncCache.has(key)) truncCache.set(key, truncated(app.db.admin, events.map((e) => e.at), unit, zone));
  return truncCache.get(key)!;
};

/** One analytics request; a thrown error (e.g. INTERNAL_SERVER_ERROR) is a problem too, named with its call. */
async function call<R>(p: Problems, where: string, run: () => Promise<R>): Promise<R | null> {
  calls.n++;
  const t0 = Date.now();
  try {
    return await run();
  } catch (error) {
    p.list.push(`${where}: threw ${String(error)} after ${Date.now() - t0} ms`);
    return null;
  } finally {
    if (Date.now() - t0 > 2000) console.log(`slow (${Date.now() - t0} ms): ${where}`);
  }
}

function someRanges(n: number): Range[] {
  const now = Date.now();
  const whole: Range = { from: new Date(floorSlot(now - 1090 * 86400_000)), to: new Date(floorSlot(now) + 2 * 3600_000) };
  const recent: Range = { from: new Date(floorSlot(now - 30 * 3600_000)), to: new Date(floorSlot(now) + 3600_000) };
  return [whole, recent, ...randomRanges(rng, n)];
}

async function setTenantZone(zone: string) {
  const res = await world.a.owner.request(UpdateTenantDocument, { input: { timeZone: zone } });
  expect(res.updateTenant.__typename).toBe("Tenant");
  tenantZone = zone;
}

async function setK(k: number) {
  const res = await world.a.owner.request(SetMinimumGroupSizeDocument, { minimumGroupSize: k });
  expect(res.updateTenant.__typename === "Tenant" && res.updateTenant.minimumGroupSize).toBe(k);
}

function filters(): Filter[] {
  const a = world.a;
  const locales = [...new Set(creds.map((c) => c.loc))];
  return [
    {},
    { includeMachine: true },
    { templateIds: [rng.pick(a.templates).id] },
    { templateIds: rng.sample(a.templates, 2).map((t) => t.id), includeMachine: true },
    { tag: "stem" },
    { tag: "arts", includeMachine: true },
    { bulkJobId: rng.pick(a.bulkJobs).id },
    { locale: rng.pick(locales) },
    { locale: rng.pick(locales), includeMachine: true, tag: "stem" },
  ];
}

// ---------------------------------------------------------------------------------------------
// Funnel

const STAGES = Object.entries(STAGE_BITS) as [keyof typeof STAGE_BITS, number][];

function expectedStages(list: CredFact[], includeMachine: boolean) {
  const issued = list.length;
  const reached = STAGES.map(([, bit]) => (bit === 0 ? issued : list.filter((c) => (includeMachine ? c.am : c.hm) >= bit).length));
  const direct = STAGES.map(([, bit]) => (bit === 0 ? issued : list.filter((c) => ((includeMachine ? c.am : c.hm) & bit) !== 0).length));
  return STAGES.map(([stage], i) => ({
    stage,
    credentials: reached[i]!,
    reachedDirectly: direct[i]!,
    rateFromPrevious: i === 0 || reached[i - 1] === 0 ? null : reached[i]! / reached[i - 1]!,
    rateFromIssued: issued === 0 ? null : reached[i]! / issued,
  }));
}

type ApiStage = { stage: string; credentials: number | null; reachedDirectly: number | null; rateFromPrevious: number | null; rateFromIssued: number | null; suppressed: boolean };
function checkStages(p: Problems, actual: ApiStage[], expected: ReturnType<typeof expectedStages>, k: number, where: string) {
  p.eq(actual.map((s) => s.stage), expected.map((s) => s.stage), `${where} stage order`);
  expected.forEach((e, i) => {
    const a = actual[i];
    if (!a) return;
    const w = `${where} ${e.stage}`;
    if (suppressedAt(e.credentials, k)) {
      p.eq([a.suppressed, a.credentials, a.reachedDirectly, a.rateFromPrevious, a.rateFromIssued], [true, null, null, null, null], w);
      return;
    }
    // reachedDirectly is a count of distinct credentials too: below k it is hidden on its own.
    const direct = suppressedAt(e.reachedDirectly, k) ? null : e.reachedDirectly;
    p.eq([a.suppressed, a.credentials, a.reachedDirectly], [false, e.credentials, direct], w);
    p.close(a.rateFromPrevious, e.rateFromPrevious, `${w} rateFromPrevious`);
    p.close(a.rateFromIssued, e.rateFromIssued, `${w} rateFromIssued`);
  });
}

const GROUP_KEY: Record<FunnelGroupBy, (c: CredFact) => string> = {
  TEMPLATE: (c) => templateKey(c.tpl),
  BULK_JOB: (c) => bulkJobKey(c.job),
  LOCALE: (c) => c.loc,
  STATUS: (c) => c.status,
};

async function checkFunnel(p: Problems, r: Range, f: Filter, statuses: CredentialStatus[] | null, groupBy: FunnelGroupBy | null, k: number) {
  const where = `funnel ${JSON.stringify({ range: apiRange(r), f, statuses, groupBy })}`;
  const res = await call(p, where, () => world.a.owner.request(EngagementFunnelDocument, { range: apiRange(r), filter: apiFilter(f), statuses, groupBy }));
  if (!res) return;
  const funnel = res.engagementFunnel;
  if (funnel.__typename !== "EngagementFunnel") return p.list.push(`${where}: ${JSON.stringify(funnel)}`);
  const cohort = creds.filter(
    (c) => inRange(c.issuedAt, r) && templateMatches(c.tpl, f) && (!f.bulkJobId || c.job === f.bulkJobId) && (!f.locale || c.loc === f.locale) && (!statuses || statuses.includes(c.status as CredentialStatus)),
  );
  checkStages(p, funnel.stages, expectedStages(cohort, !!f.includeMachine), k, where);
  if (!groupBy) return p.eq(funnel.groups.length, 0, `${where} groups`);
  const groups = new Map<string, CredFact[]>();
  for (const c of cohort) groups.set(GROUP_KEY[groupBy](c), [...(groups.get(GROUP_KEY[groupBy](c)) ?? []), c]);
  const order = [...groups.entries()]
    .map(([key, list]) => ({ key, issued: suppressedAt(list.length, k) ? -1 : list.length }))
    .sort((a, b) => b.issued - a.issued || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((g) => g.key);
  p.eq(funnel.groups.map((g) => g.key), order, `${where} group keys in order`);
  for (const g of funnel.groups) {
    const list = groups.get(g.key);
    if (list) checkStages(p, g.stages, expectedStages(list, !!f.includeMachine), k, `${where} group ${g.key}`);
    if (groupBy === "TEMPLATE") p.eq(g.label, world.a.templates.find((t) => templateKey(t.id) === g.key)?.name ?? null, `${where} label`);
  }
}

// ---------------------------------------------------------------------------------------------
// Time series

async function expectedSeries(r: Range, unit: string, zone: string, types: string[], f: Filter) {
  const buckets = await calendarBuckets(app.db.admin, r, unit, zone);
  const starts = await eventBucketStarts(unit, zone);
  const index = new Map(buckets.map((b, i) => [b.lo, i]));
  const cells = buckets.map(() => new Map<string, Tally>());
  const totals = new Map<string, Tally>();
  events.forEach((e, i) => {
    if (!inRange(e.at, r) || !eventMatches(e, f) || !types.includes(e.type)) return;
    const idx = index.get(Math.max(starts[i]!, r.from.getTime()));
    if (idx === undefined) throw new Error(`no bucket for ${iso(e.at)} in ${zone} ${unit}`);
    count(cells[idx]!, e, !!f.includeMachine);
    count(totals, e, !!f.includeMachine);
  });
  return { buckets, cells, totals };
}

type ApiBucket = { start: string; end: string; partial: boolean; counts: Count[] };
function checkBuckets(p: Problems, actual: ApiBucket[], expected: Awaited<ReturnType<typeof expectedSeries>>, types: string[], k: number, where: string) {
  p.eq(actual.map((b) => [b.start, b.end, b.partial]), expected.buckets.map((b) => [iso(b.lo), iso(b.hi), b.partial]), `${where} buckets`);
  if (actual.length !== expected.buckets.length) return;
  actual.forEach((b, i) => {
    p.eq(b.counts.map((c) => c.type), TYPES.filter((t) => types.includes(t)).map(up), `${where} bucket ${b.start} types`);
    for (const t of types) checkCount(p, b.counts.find((c) => c.type === up(t)), expected.cells[i]!.get(t) ?? tally(), k, `${where} bucket ${b.start} ${t}`);
  });
}

async function checkSeries(p: Problems, r: Range, interval: AnalyticsInterval, zone: string | null, types: string[] | null, f: Filter, previous: boolean, k: number) {
  const where = `timeSeries ${JSON.stringify({ range: apiRange(r), interval, zone, types, f, previous })}`;
  const res = await call(p, where, () =>
    world.a.owner.request(EngagementTimeSeriesDocument, {
      range: apiRange(r), interval, timeZone: zone, types: types ? types.map(up) : null, filter: apiFilter(f), compareWithPreviousPeriod: previous,
    }),
  );
  if (!res) return;
  const s = res.engagementTimeSeries;
  if (s.__typename !== "EngagementTimeSeries") return p.list.push(`${where}: ${JSON.stringify(s)}`);
  const z = zone ?? tenantZone;
  const unit = interval.toLowerCase();
  const wanted = types ?? [...TYPES];
  p.eq([s.interval, s.timeZone], [interval, z], `${where} interval and zone`);
  const exp = await expectedSeries(r, unit, z, wanted, f);
  checkBuckets(p, s.buckets, exp, wanted, k, where);
  for (const t of wanted) checkCount(p, s.totals.find((c) => c.type === up(t)), exp.totals.get(t) ?? tally(), k, `${where} total ${t}`);
  if (!previous) return p.eq(s.previous, null, `${where} previous`);
  const span = r.to.getTime() - r.from.getTime();
  const pr: Range = { from: new Date(r.from.getTime() - span), to: r.from };
  if (!s.previous) return p.list.push(`${where}: no previous period`);
  p.eq([s.previous.from, s.previous.to], [pr.from.toISOString(), pr.to.toISOString()], `${where} previous range`);
  const pexp = await expectedSeries(pr, unit, z, wanted, f);
  checkBuckets(p, s.previous.buckets, pexp, wanted, k, `${where} previous`);
  for (const t of wanted) checkCount(p, s.previous.totals.find((c) => c.type === up(t)), pexp.totals.get(t) ?? tally(), k, `${where} previous total ${t}`);
}

// ---------------------------------------------------------------------------------------------
// Breakdown and top templates

const DIMENSION: Record<BreakdownDimension, keyof EventFact["dims"]> = {
  TEMPLATE: "t", BULK_JOB: "j", CHANNEL: "c", NETWORK: "n", DEVICE_CLASS: "d", FORMAT: "f", LOCALE: "l",
};
const breakdownKey = (by: BreakdownDimension, value: string) => (by === "TEMPLATE" ? templateKey(value) : by === "BULK_JOB" ? bulkJobKey(value) : value);

async function checkBreakdown(
  p: Problems, r: Range, by: BreakdownDimension, types: string[] | null, f: Filter,
  orderBy: { type: string; measure: "EVENTS" | "CREDENTIALS" } | null, first: number | null, k: number,
) {
  const where = `breakdown ${JSON.stringify({ range: apiRange(r), by, types, f, orderBy, first })}`;
  const res = await call(p, where, () =>
    world.a.owner.request(EngagementBreakdownDocument, {
      range: apiRange(r), by, types: types ? types.map(up) : null, filter: apiFilter(f), orderBy: orderBy ? { ...orderBy, type: up(orderBy.type) } : null, first,
    }),
  );
  if (!res) return;
  const b = res.engagementBreakdown;
  if (b.__typename !== "EngagementBreakdown") return p.list.push(`${where}: ${JSON.stringify(b)}`);
  const wanted = types ?? [...TYPES];
  const rows = new Map<string, Map<string, Tally>>();
  for (const e of events) {
    if (!inRange(e.at, r) || !eventMatches(e, f)) continue;
    const key = breakdownKey(by, e.dims[DIMENSION[by]]);
    if (!rows.has(key)) rows.set(key, new Map());
    count(rows.get(key)!, e, !!f.includeMachine);
  }
  const expected = [...rows.entries()]
    .filter(([, t]) => wanted.some((w) => (t.get(w)?.events ?? 0) > 0 || (t.get(w)?.credentials ?? 0) > 0))
    .map(([key, t]) => {
      const proven = Math.max(...wanted.map((w) => t.get(w)?.credentials ?? 0));
      const events = wanted.reduce((n, w) => n + (t.get(w)?.events ?? 0), 0);
      const suppressed = eventCellSuppressed(events, proven, k);
      const o = orderBy ? (t.get(orderBy.type) ?? tally()) : null;
      const sortValue = !o || suppressed || eventCellSuppressed(o.events, o.credentials, k) ? -1 : orderBy!.measure === "EVENTS" ? o.events : o.credentials;
      return { key, t, suppressed, sortValue };
    })
    .sort((x, y) => y.sortValue - x.sortValue || (x.key < y.key ? -1 : x.key > y.key ? 1 : 0))
    .slice(0, first ?? undefined);
  p.eq(b.by, by, `${where} by`);
  p.eq(b.rows.map((row) => row.key), expected.map((x) => x.key), `${where} row keys in order`);
  for (const row of b.rows) {
    const e = expected.find((x) => x.key === row.key);
    if (!e) continue;
    p.eq(row.suppressed, e.suppressed, `${where} row ${row.key} suppressed`);
    p.eq(row.counts.map((c) => c.type), TYPES.filter((t) => wanted.includes(t)).map(up), `${where} row ${row.key} types`);
    for (const t of wanted) {
      const c = row.counts.find((x) => x.type === up(t));
      if (e.suppressed) p.eq([c?.suppressed, c?.events, c?.credentials], [true, null, null], `${where} row ${row.key} ${t}`);
      else checkCount(p, c, e.t.get(t) ?? tally(), k, `${where} row ${row.key} ${t}`);
    }
    if (by === "TEMPLATE") p.eq(row.label, world.a.templates.find((x) => templateKey(x.id) === row.key)?.name ?? null, `${where} label`);
  }
}

const TOP_TYPE: Record<TopTemplatesMeasure, string> = { VIEWS: "page_viewed", SHARES: "shared", LINKEDIN_ADDS: "linkedin_added", VERIFICATIONS: "verified" };

async function checkTop(p: Problems, r: Range, by: TopTemplatesMeasure, measure: "EVENTS" | "CREDENTIALS", first: number | null, f: Filter, k: number) {
  const where = `topTemplates ${JSON.stringify({ range: apiRange(r), by, measure, first, f })}`;
  const res = await call(p, where, () => world.a.owner.request(TopTemplatesDocument, { range: apiRange(r), by, measure, first, filter: apiFilter(f) }));
  if (!res) return;
  const top = res.topTemplates;
  if (top.__typename !== "TopTemplates") return p.list.push(`${where}: ${JSON.stringify(top)}`);
  const per = new Map<string, Tally>();
  for (const e of events) {
    if (!inRange(e.at, r) || !eventMatches(e, f) || e.type !== TOP_TYPE[by]) continue;
    const t = per.get(e.dims.t) ?? tally();
    if (f.includeMachine || !e.machine) t.events++;
    t.credentials += f.includeMachine ? e.fa : e.fh;
    per.set(e.dims.t, t);
  }
  const name = (u: string) => world.a.templates.find((t) => t.id === u)?.name ?? "";
  const expected = [...per.entries()]
    .filter(([, t]) => t.events > 0 || t.credentials > 0)
    .map(([u, t]) => ({ u, t, suppressed: eventCellSuppressed(t.events, t.credentials, k), value: eventCellSuppressed(t.events, t.credentials, k) ? -1 : measure === "EVENTS" ? t.events : t.credentials }))
    .sort((a, b) => b.value - a.value || name(a.u).localeCompare(name(b.u)) || a.u.localeCompare(b.u))
    .slice(0, first ?? 10);
  p.eq(
    top.rankings.map((x) => [x.template?.id ?? null, x.label, x.events, x.credentials, x.suppressed]),
    expected.map((x) => [templateKey(x.u), name(x.u), x.suppressed ? null : x.t.events, x.suppressed ? null : x.t.credentials, x.suppressed]),
    where,
  );
}

// ---------------------------------------------------------------------------------------------
// Latency and delivery health

function expectedLatency(list: (number | null)[], k: number) {
  const bins = list.filter((b): b is number => b !== null).sort((a, b) => a - b);
  const n = bins.length;
  if (suppressedAt(n, k)) return { credentials: null, medianSeconds: null, p90Seconds: null, suppressed: true };
  const at = (q: number) => (n === 0 ? null : binUpper(bins[Math.max(1, Math.ceil(q * n)) - 1]!));
  return { credentials: n, medianSeconds: at(0.5), p90Seconds: at(0.9), suppressed: false };
}

async function checkLatency(p: Problems, r: Range, f: Filter, k: number) {
  const where = `latency ${JSON.stringify({ range: apiRange(r), f })}`;
  const res = await call(p, where, () => world.a.owner.request(EngagementLatencyDocument, { range: apiRange(r), filter: apiFilter(f) }));
  if (!res) return;
  const l = res.engagementLatency;
  if (l.__typename !== "EngagementLatency") return p.list.push(`${where}: ${JSON.stringify(l)}`);
  const cohort = creds.filter((c) => inRange(c.issuedAt, r) && templateMatches(c.tpl, f));
  type Stats = { credentials: number | null; medianSeconds: number | null; p90Seconds: number | null; suppressed: boolean };
  const same = (a: Stats, e: Stats, w: string) => {
    p.eq([a.suppressed, a.credentials], [e.suppressed, e.credentials], w);
    p.close(a.medianSeconds, e.medianSeconds, `${w} median`);
    p.close(a.p90Seconds, e.p90Seconds, `${w} p90`);
  };
  p.eq([l.overall.template, l.overall.label], [null, null], `${where} overall names no template`);
  same(l.overall.toFirstView, expectedLatency(cohort.map((c) => c.viewBin), k), `${where} overall view`);
  same(l.overall.toFirstShare, expectedLatency(cohort.map((c) => c.shareBin), k), `${where} overall share`);
  const measured = world.a.templates
    .filter((t) => cohort.some((c) => c.tpl === t.id && (c.viewBin !== null || c.shareBin !== null)))
    .sort((a, b) => a.name.localeCompare(b.name) || globalId("Template", a.id).localeCompare(globalId("Template", b.id)));
  p.eq(l.templates.map((x) => x.template?.id), measured.map((t) => globalId("Template", t.id)), `${where} templates`);
  for (const t of measured) {
    const row = l.templates.find((x) => x.template?.id === globalId("Template", t.id));
    if (!row) continue;
    p.eq(row.label, t.name, `${where} ${t.name} label`);
    const mine = cohort.filter((c) => c.tpl === t.id);
    same(row.toFirstView, expectedLatency(mine.map((c) => c.viewBin), k), `${where} ${t.name} view`);
    same(row.toFirstShare, expectedLatency(mine.map((c) => c.shareBin), k), `${where} ${t.name} share`);
  }
}

const OUTCOMES = ["pending", "stored", "sent", "delivered", "bounced", "complained", "failed"] as const;

function expectedDeliveryRows(list: MessageFact[], groupBy: DeliveryGroupBy, k: number) {
  const groups = new Map<string, Record<string, number>>();
  const keyOf = (m: MessageFact) => (groupBy === "NONE" ? "all" : groupBy === "TEMPLATE" ? templateKey(m.tpl) : m.domain);
  if (groupBy === "NONE") groups.set("all", Object.fromEntries(OUTCOMES.map((o) => [o, 0])));
  for (const m of list) {
    const g = groups.get(keyOf(m)) ?? Object.fromEntries(OUTCOMES.map((o) => [o, 0]));
    g[m.outcome]!++;
    groups.set(keyOf(m), g);
  }
  return [...groups.entries()]
    .map(([key, c]) => {
      const messages = OUTCOMES.reduce((s, o) => s + c[o]!, 0);
      if (suppressedAt(messages, k)) return { key, sort: -1, row: { key, messages: null, suppressed: true } as Record<string, unknown> };
      const delivered = c.delivered! + c.complained!;
      const rate = (x: number) => (messages === 0 ? null : x / messages);
      return {
        key,
        sort: messages,
        row: {
          key, messages, delivered, bounced: c.bounced, complained: c.complained, failed: c.failed, pending: c.pending, stored: c.stored, sent: c.sent,
          deliveredRate: rate(delivered), bouncedRate: rate(c.bounced!), complainedRate: rate(c.complained!), failedRate: rate(c.failed!), suppressed: false,
        } as Record<string, unknown>,
      };
    })
    .sort((a, b) => b.sort - a.sort || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((x) => x.row);
}

function checkDeliveryRows(p: Problems, actual: Record<string, unknown>[], expected: Record<string, unknown>[], where: string) {
  p.eq(actual.map((r) => r.key), expected.map((r) => r.key), `${where} row keys in order`);
  for (const e of expected) {
    const a = actual.find((r) => r.key === e.key);
    if (!a) continue;
    for (const field of ["messages", "delivered", "bounced", "complained", "failed", "pending", "stored", "sent", "suppressed"]) {
      p.eq(a[field], e[field] ?? null, `${where} ${String(e.key)} ${field}`);
    }
    for (const field of ["deliveredRate", "bouncedRate", "complainedRate", "failedRate"]) {
      p.close(a[field] as number | null, (e[field] as number | null | undefined) ?? null, `${where} ${String(e.key)} ${field}`);
    }
  }
}

async function checkDelivery(p: Problems, r: Range, groupBy: DeliveryGroupBy, interval: AnalyticsInterval | null, zone: string | null, f: Filter, k: number) {
  const where = `deliveryHealth ${JSON.stringify({ range: apiRange(r), groupBy, interval, zone, f })}`;
  const res = await call(p, where, () =>
    world.a.owner.request(DeliveryHealthDocument, { range: apiRange(r), groupBy, interval, timeZone: zone, filter: apiFilter(f) }),
  );
  if (!res) return;
  const d = res.deliveryHealth;
  if (d.__typename !== "DeliveryHealth") return p.list.push(`${where}: ${JSON.stringify(d)}`);
  const list = messages.filter((m) => inRange(m.createdAt, r) && templateMatches(m.tpl, f));
  checkDeliveryRows(p, d.rows as never, expectedDeliveryRows(list, groupBy, k), where);
  if (!interval) return p.eq(d.buckets, null, `${where} buckets`);
  const unit = interval.toLowerCase();
  const z = zone ?? tenantZone;
  const buckets = await calendarBuckets(app.db.admin, r, unit, z);
  const starts = await truncated(app.db.admin, list.map((m) => m.createdAt), unit, z);
  p.eq(d.buckets?.map((b) => [b.start, b.end, b.partial]), buckets.map((b) => [iso(b.lo), iso(b.hi), b.partial]), `${where} buckets`);
  buckets.forEach((b, i) => {
    const mine = list.filter((_, j) => Math.max(starts[j]!, r.from.getTime()) === b.lo);
    const actual = d.buckets?.[i];
    if (actual) checkDeliveryRows(p, actual.rows as never, expectedDeliveryRows(mine, groupBy, k), `${where} bucket ${iso(b.lo)}`);
  });
}

// ---------------------------------------------------------------------------------------------

describe("every analytics operation equals the raw rows", () => {
  it("engagementFunnel: stages cumulative and direct, rates, every groupBy, filters and statuses", async () => {
    const p = new Problems();
    const ranges = someRanges(3);
    const groupings: (FunnelGroupBy | null)[] = [null, "TEMPLATE", "BULK_JOB", "LOCALE", "STATUS"];
    for (const r of ranges) {
      for (const f of filters()) await checkFunnel(p, r, f, null, rng.pick(groupings), 1);
      for (const g of groupings) await checkFunnel(p, r, { includeMachine: rng.chance(0.5) }, null, g, 1);
      await checkFunnel(p, r, {}, ["ACTIVE"], "STATUS", 1);
      await checkFunnel(p, r, { includeMachine: true }, ["REVOKED", "SUSPENDED"], "TEMPLATE", 1);
    }
    const issued = creds.length;
    expect(issued, seedNote()).toBeGreaterThan(60);
    p.done();
  }, 120_000);

  it("engagementTimeSeries: every interval in the tenant's zone and in half-hour, 45-minute and DST zones, previous period, filters", async () => {
    const p = new Problems();
    const now = Date.now();
    const recent: Range = { from: new Date(floorSlot(now - 40 * 3600_000)), to: new Date(floorSlot(now) + 2 * 3600_000) };
    const fs = filters();
    await setTenantZone("Asia/Kathmandu");
    for (const zone of [null, "UTC", "Australia/Lord_Howe", "Pacific/Chatham", "America/St_Johns"]) {
      await checkSeries(p, recent, "HOUR", zone, null, rng.pick(fs), rng.chance(0.5), 1);
      await checkSeries(p, recent, "DAY", zone, rng.chance(0.5) ? null : rng.sample(TYPES, 3), rng.pick(fs), rng.chance(0.5), 1);
      for (const r of someRanges(2).slice(zone === null ? 0 : 2)) {
        await checkSeries(p, r, rng.pick(["DAY", "WEEK", "MONTH"] as const), zone, null, rng.pick(fs), rng.chance(0.5), 1);
      }
    }
    // The tenant's zone is the default: another tenant zone moves the buckets of a call without timeZone.
    await setTenantZone("America/St_Johns");
    await checkSeries(p, recent, "HOUR", null, null, {}, true, 1);
    await checkSeries(p, someRanges(0)[0]!, "MONTH", null, null, { includeMachine: true }, false, 1);
    await setTenantZone("UTC");
    p.done();
  }, 120_000);

  it("engagementBreakdown: every dimension, filters, includeMachine, orderBy and first", async () => {
    const p = new Problems();
    const dims = Object.keys(DIMENSION) as BreakdownDimension[];
    for (const r of someRanges(2)) {
      for (const by of dims) {
        const f: Filter = { ...(rng.chance(0.5) ? { includeMachine: true } : {}), ...(rng.chance(0.3) ? { tag: "stem" } : {}) };
        if (by === "BULK_JOB" && rng.chance(0.5)) f.bulkJobId = rng.pick(world.a.bulkJobs).id;
        if (by === "LOCALE" && rng.chance(0.5)) f.locale = rng.pick(creds).loc;
        await checkBreakdown(p, r, by, null, f, null, null, 1);
        const orderBy = { type: rng.pick(TYPES) as string, measure: rng.pick(["EVENTS", "CREDENTIALS"] as const) };
        await checkBreakdown(p, r, by, rng.sample(TYPES, 3), { includeMachine: rng.chance(0.5) }, orderBy, rng.pick([null, 1, 2, 3]), 1);
      }
    }
    p.done();
  }, 120_000);

  it("topTemplates: views, shares, LinkedIn adds and verifications by events and by credentials", async () => {
    const p = new Problems();
    const fs = filters();
    for (const r of someRanges(2)) {
      for (const by of Object.keys(TOP_TYPE) as TopTemplatesMeasure[]) {
        for (const measure of ["EVENTS", "CREDENTIALS"] as const) await checkTop(p, r, by, measure, rng.pick([null, 1, 2]), rng.pick(fs), 1);
      }
    }
    p.done();
  }, 120_000);

  it("engagementLatency: measured credentials, median and p90 per template and overall, as the upper bound of the exact percentile's bin", async () => {
    const p = new Problems();
    for (const r of someRanges(4)) {
      for (const f of [{}, { templateIds: [rng.pick(world.a.templates).id] }, { tag: "stem" }]) await checkLatency(p, r, f, 1);
    }
    expect(creds.filter((c) => c.viewBin !== null).length, seedNote()).toBeGreaterThan(5);
    p.done();
  }, 120_000);

  it("deliveryHealth: outcomes and rates overall, per template, per sender domain, and per hour / day in a zone", async () => {
    const p = new Problems();
    const now = Date.now();
    const recent: Range = { from: new Date(floorSlot(now - 30 * 3600_000)), to: new Date(floorSlot(now) + 3600_000) };
    for (const r of [...someRanges(3), recent]) {
      for (const groupBy of ["NONE", "TEMPLATE", "SENDER_DOMAIN"] as const) {
        await checkDelivery(p, r, groupBy, null, null, rng.chance(0.3) ? { tag: "stem" } : {}, 1);
      }
    }
    await setTenantZone("Asia/Kathmandu");
    await checkDelivery(p, recent, "SENDER_DOMAIN", "HOUR", null, {}, 1);
    await checkDelivery(p, recent, "NONE", "HOUR", "America/St_Johns", {}, 1);
    await checkDelivery(p, someRanges(0)[0]!, "TEMPLATE", "MONTH", "Australia/Lord_Howe", {}, 1);
    await checkDelivery(p, recent, "TEMPLATE", "DAY", null, { templateIds: [rng.pick(world.a.templates).id] }, 1);
    await setTenantZone("UTC");
    const stored = messages.filter((m) => m.outcome !== "pending").length;
    expect(stored, seedNote()).toBeGreaterThan(10);
    p.done();
  }, 120_000);
});

describe("minimumGroupSize", () => {
  it("hides exactly the cells below it (numbers null, suppressed true) and shows the others unchanged, in every operation", async () => {
    const p = new Problems();
    for (const k of [3, 7]) {
      await setK(k);
      const ranges = someRanges(1);
      for (const r of ranges) {
        await checkFunnel(p, r, rng.pick(filters()), null, rng.pick(["TEMPLATE", "LOCALE", "STATUS", "BULK_JOB"] as const), k);
        await checkSeries(p, { from: new Date(floorSlot(Date.now() - 30 * 3600_000)), to: new Date(floorSlot(Date.now()) + 3600_000) }, "HOUR", "Asia/Kathmandu", null, {}, true, k);
        await checkSeries(p, r, "MONTH", null, null, { includeMachine: true }, false, k);
        for (const by of ["TEMPLATE", "CHANNEL", "LOCALE", "NETWORK"] as const) {
          await checkBreakdown(p, r, by, null, { includeMachine: rng.chance(0.5) }, { type: "page_viewed", measure: "CREDENTIALS" }, null, k);
        }
        for (const by of ["VIEWS", "SHARES"] as const) await checkTop(p, r, by, "EVENTS", null, {}, k);
        await checkLatency(p, r, {}, k);
        for (const groupBy of ["NONE", "TEMPLATE", "SENDER_DOMAIN"] as const) await checkDelivery(p, r, groupBy, null, null, {}, k);
      }
    }
    await setK(1);
    p.done();
  }, 120_000);

  it("never shows a funnel stage's reachedDirectly below it (a count of distinct credentials like any other)", async () => {
    const p = new Problems();
    const k = 4;
    await setK(k);
    let seen = 0;
    try {
      for (const r of someRanges(2)) {
        for (const groupBy of [null, "TEMPLATE", "LOCALE"] as const) {
          const res = await call(p, `funnel ${groupBy}`, () => world.a.owner.request(EngagementFunnelDocument, { range: apiRange(r), groupBy }));
          const f = res?.engagementFunnel;
          if (!f) continue;
          if (f.__typename !== "EngagementFunnel") continue;
          for (const [label, stages] of [["overall", f.stages] as const, ...f.groups.map((g) => [`group ${g.key}`, g.stages] as const)]) {
            for (const s of stages) {
              seen++;
              if (s.reachedDirectly !== null && s.reachedDirectly > 0 && s.reachedDirectly < k) {
                p.list.push(`${apiRange(r).from}..${apiRange(r).to} ${label} ${s.stage}: credentials ${s.credentials} shown with reachedDirectly ${s.reachedDirectly} < minimumGroupSize ${k}`);
              }
            }
          }
        }
      }
    } finally {
      await setK(1);
    }
    expect(seen).toBeGreaterThan(0);
    p.done();
  }, 120_000);
});

describe("calendar buckets through the API", () => {
  it("DAY, WEEK and MONTH in a half-hour tenant zone over short ranges across midnight (no UTC hour straddles a bucket)", async () => {
    const p = new Problems();
    await setTenantZone("America/St_Johns");
    try {
      const now = floorSlot(Date.now());
      for (const r of [
        { from: new Date(now - 30 * 3600_000), to: new Date(now + 3600_000) },
        { from: new Date(now - 47 * 3600_000), to: new Date(now - 2 * 3600_000) },
        { from: new Date(now - 9 * 86400_000), to: new Date(now + 3600_000) },
      ]) {
        for (const interval of ["DAY", "WEEK", "MONTH"] as const) await checkSeries(p, r, interval, null, null, {}, true, 1);
      }
    } finally {
      await setTenantZone("UTC");
    }
    p.done();
  });

  it("HOUR buckets in Australia/Lord_Howe across its half-hour DST change are the zone's clock hours", async () => {
    const p = new Problems();
    // Lord Howe moves from +11 to +10:30 at 02:00 local on 2026-04-05 (15:00Z on the 4th), and back on 2026-10-04.
    for (const r of [
      { from: new Date("2026-04-04T10:00:00Z"), to: new Date("2026-04-05T04:00:00Z") },
      { from: new Date("2026-10-03T10:00:00Z"), to: new Date("2026-10-04T04:00:00Z") },
    ]) {
      await checkSeries(p, r, "HOUR", "Australia/Lord_Howe", ["page_viewed"], {}, false, 1);
    }
    p.done();
  });
});
