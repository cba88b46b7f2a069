// Analytics downloads (issue 9, item 5): every analytics result as JSON (exactly what the GraphQL
// operation answers) and CSV (its documented columns), and the anonymised event stream, for the
// caller's own analyst session or analytics key; refused as GraphQL refuses; no person in any file.
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AcceptInvitationDocument,
  CreateBulkIssuanceDocument,
  DeliveryHealthDocument,
  EngagementBreakdownDocument,
  EngagementFunnelDocument,
  EngagementLatencyDocument,
  EngagementTimeSeriesDocument,
  InviteMemberDocument,
  TopTemplatesDocument,
} from "../../src/sdk/generated.js";
import { withTenantSql } from "../../src/db/tenant-transaction.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createKey } from "../helpers/factories.js";
import { tenantWithTemplate, type EngagementTenant, type Issued } from "../engagement/setup.js";
import { openedRecipients, tokenSentTo } from "../helpers/sealed.js";

let app: TestApp;
let t: EngagementTenant;
let other: EngagementTenant;
let issued: Issued[];
const tokens: Record<"analyst" | "analyticsKey" | "issueKey", string> = { analyst: "", analyticsKey: "", issueKey: "" };
const FORMULA = "=1+2";

const QUARTER = 15 * 60_000;
const floorQ = (ms: number) => new Date(Math.floor(ms / QUARTER) * QUARTER).toISOString();
const range = { from: floorQ(Date.now() - 3 * 86_400_000), to: floorQ(Date.now() + 2 * QUARTER) };

async function record(events: object[]) {
  const json = JSON.stringify(events);
  await withTenantSql(app.database.sql, { dbRole: app.config.roles.anonymous, tenantId: null, userId: null }, (tx) => tx`select record_engagement_events(${json}::text::jsonb)`);
}

async function engage(tenant: EngagementTenant, credentials: Issued[]) {
  const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();
  const event = (c: Issued, type: string, minutes: number, extra: object = {}) => ({
    tenant_id: tenant.tenantId, credential_id: c.credentialId, type, channel: "web", ua_class: "desktop", machine: false, occurred_at: ago(minutes), ...extra,
  });
  await record(credentials.flatMap((c, i) => [
    event(c, "email_opened", 300 - i, { channel: "email", ua_class: "mail_proxy", machine: true }),
    event(c, "page_viewed", 200 - i, { ua_class: i % 2 ? "mobile" : "desktop" }),
    event(c, "shared", 100 - i, { channel: "social", network: "x" }),
    event(c, "downloaded", 50 - i, { format: "pdf" }),
  ]));
}

async function joinedAs(role: "analyst", email: string): Promise<string> {
  await t.owner.request(InviteMemberDocument, { input: { email, role } });
  const row = { token: await tokenSentTo(app, email) };
  const accepted = await app.client().request(AcceptInvitationDocument, { input: { token: row!.token, name: "Ana Lyst", password: "a long enough password" } });
  if (accepted.acceptInvitation.__typename !== "AcceptInvitationPayload") throw new Error(JSON.stringify(accepted));
  return accepted.acceptInvitation.token!;
}

beforeAll(async () => {
  app = await startTestApp();
  t = await tenantWithTemplate(app, "Exported College");
  other = await tenantWithTemplate(app, "Other College");
  issued = [await t.issue("ada-export@example.test"), await t.issue("bo-export@example.test"), await t.issue("cy-export@example.test")];
  // One recipient with a locale, one who withheld tracking consent, and a share "network" that is a formula.
  await app.db.admin`update recipients set locale = 'pt-BR' where id = ${issued[0]!.recipientId}`;
  await app.db.admin`update recipients set tracking_consent = false where id = ${issued[2]!.recipientId}`;
  await engage(t, issued);
  await record([{ tenant_id: t.tenantId, credential_id: issued[1]!.credentialId, type: "shared", channel: "social", network: FORMULA, ua_class: "desktop", machine: false }]);
  await engage(other, [await other.issue()]);
  tokens.analyst = await joinedAs("analyst", "ana-export@example.test");
  tokens.analyticsKey = (await createKey(app, t.owner, ["analytics"])).secret;
  tokens.issueKey = (await createKey(app, t.owner, ["issue"])).secret;
});
afterAll(() => app?.close());

function download(path: string, token?: string, params: Record<string, string> = {}) {
  const query = new URLSearchParams(params).toString();
  return fetch(`${app.server.url}/analytics/exports/${path}${query ? `?${query}` : ""}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
}
const withVariables = (variables: unknown) => ({ variables: JSON.stringify(variables) });
const csvOf = async (res: Response) => parse(await res.text()) as string[][];
const cell = (v: unknown) => (v === null || v === undefined ? "" : String(v));

type Any = Record<string, any>;
const count = (c: Any) => [c.type, c.events, c.credentials, c.suppressed].map(cell);

/** Each export: its GraphQL document, variables, and the CSV rows the documented columns give for a result. */
const EXPORTS: { name: string; field: string; document: any; variables: Any; header: string[]; rows(v: Any): string[][] }[] = [
  {
    name: "funnel",
    field: "engagementFunnel",
    document: EngagementFunnelDocument,
    variables: { range, groupBy: "TEMPLATE" },
    header: ["scope", "group_key", "group_label", "stage", "credentials", "reached_directly", "rate_from_previous", "rate_from_issued", "suppressed"],
    rows: (v) => [
      ...v.stages.map((s: Any) => ["total", "", "", s.stage, s.credentials, s.reachedDirectly, s.rateFromPrevious, s.rateFromIssued, s.suppressed].map(cell)),
      ...v.groups.flatMap((g: Any) => g.stages.map((s: Any) => ["group", g.key, g.label, s.stage, s.credentials, s.reachedDirectly, s.rateFromPrevious, s.rateFromIssued, s.suppressed].map(cell))),
    ],
  },
  {
    name: "time-series",
    field: "engagementTimeSeries",
    document: EngagementTimeSeriesDocument,
    variables: { range, interval: "DAY", timeZone: "Asia/Kolkata", compareWithPreviousPeriod: true },
    header: ["period", "kind", "start", "end", "partial", "type", "events", "credentials", "suppressed"],
    rows: (v) => [
      ...v.buckets.flatMap((b: Any) => b.counts.map((c: Any) => ["current", "bucket", b.start, b.end, String(b.partial), ...count(c)])),
      ...v.totals.map((c: Any) => ["current", "total", v.buckets[0].start, v.buckets.at(-1).end, "", ...count(c)]),
      ...v.previous.buckets.flatMap((b: Any) => b.counts.map((c: Any) => ["previous", "bucket", b.start, b.end, String(b.partial), ...count(c)])),
      ...v.previous.totals.map((c: Any) => ["previous", "total", v.previous.from, v.previous.to, "", ...count(c)]),
    ],
  },
  {
    name: "breakdown",
    field: "engagementBreakdown",
    document: EngagementBreakdownDocument,
    variables: { range, by: "DEVICE_CLASS", types: ["PAGE_VIEWED", "SHARED"] },
    header: ["key", "label", "type", "events", "credentials", "suppressed"],
    rows: (v) => v.rows.flatMap((r: Any) => r.counts.map((c: Any) => [cell(r.key), cell(r.label), ...count(c)])),
  },
  {
    name: "top-templates",
    field: "topTemplates",
    document: TopTemplatesDocument,
    variables: { range, by: "VIEWS", measure: "CREDENTIALS" },
    header: ["rank", "template_id", "template_name", "events", "credentials", "suppressed"],
    rows: (v) => v.rankings.map((r: Any, i: number) => [i + 1, r.template?.id, r.label, r.events, r.credentials, r.suppressed].map(cell)),
  },
  {
    name: "latency",
    field: "engagementLatency",
    document: EngagementLatencyDocument,
    variables: { range },
    header: ["scope", "template_id", "template_name", "measure", "credentials", "median_seconds", "p90_seconds", "suppressed"],
    rows: (v) =>
      [["overall", v.overall] as const, ...v.templates.map((r: Any) => ["template", r] as const)].flatMap(([scope, r]: readonly [string, Any]) =>
        ([["first_view", r.toFirstView], ["first_share", r.toFirstShare]] as [string, Any][]).map(([measure, s]) =>
          [scope, scope === "overall" ? "" : r.template?.id, scope === "overall" ? "" : r.label, measure, s.credentials, s.medianSeconds, s.p90Seconds, s.suppressed].map(cell),
        ),
      ),
  },
  {
    name: "delivery-health",
    field: "deliveryHealth",
    document: DeliveryHealthDocument,
    variables: { range, groupBy: "TEMPLATE", interval: "DAY" },
    header: ["kind", "start", "end", "key", "label", "messages", "delivered", "bounced", "complained", "failed", "pending", "stored", "sent",
      "delivered_rate", "bounced_rate", "complained_rate", "failed_rate", "suppressed"],
    rows: (v) => {
      const row = (r: Any) => [r.key, r.label, r.messages, r.delivered, r.bounced, r.complained, r.failed, r.pending, r.stored, r.sent,
        r.deliveredRate, r.bouncedRate, r.complainedRate, r.failedRate, r.suppressed].map(cell);
      return [...v.rows.map((r: Any) => ["total", "", "", ...row(r)]), ...v.buckets.flatMap((b: Any) => b.rows.map((r: Any) => ["bucket", b.start, b.end, ...row(r)]))];
    },
  },
];

describe.each(["analyst", "analyticsKey"] as const)("each result export, for an %s", (who) => {
  it.each(EXPORTS.map((e) => [e.name, e] as const))("%s as JSON is the GraphQL result, and as CSV its documented rows", async (_name, spec) => {
    const data = (await app.client(tokens[who]).request(spec.document, spec.variables)) as Any;
    const value = data[spec.field];
    expect(value.__typename).not.toBe("ValidationError");

    const json = await download(`${spec.name}.json`, tokens[who], withVariables(spec.variables));
    expect(json.status).toBe(200);
    expect(json.headers.get("content-type")).toContain("application/json");
    expect(json.headers.get("content-disposition")).toMatch(new RegExp(`^attachment; filename="laurel-${spec.name}_\\d{4}-\\d\\d-\\d\\d(T\\d{4}Z)?_\\d{4}-\\d\\d-\\d\\d(T\\d{4}Z)?\\.json"$`));
    expect(await json.json()).toEqual(value);

    const csv = await download(`${spec.name}.csv`, tokens[who], withVariables(spec.variables));
    expect(csv.status).toBe(200);
    expect(csv.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    const [header, ...rows] = await csvOf(csv);
    expect(header).toEqual(spec.header);
    expect(rows).toEqual(spec.rows(value));
    expect(rows.length).toBeGreaterThan(0);
  });
});

describe("the numbers in an export", () => {
  it("count the seeded credentials and events", async () => {
    const res = await download("funnel.csv", tokens.analyticsKey, withVariables({ range }));
    const rows = (await csvOf(res)).slice(1);
    const stage = (name: string) => rows.find((r) => r[0] === "total" && r[3] === name)!;
    expect(stage("ISSUED")[4]).toBe("3");
    expect(stage("VIEWED")[4]).toBe("2"); // the third recipient withheld consent: events, never credentials
    const series = (await csvOf(await download("time-series.csv", tokens.analyticsKey, withVariables({ range, interval: "DAY", types: ["PAGE_VIEWED"] })))).slice(1);
    expect(series.find((r) => r[0] === "current" && r[1] === "total")!.slice(5, 8)).toEqual(["PAGE_VIEWED", "3", "2"]);
  });
});

describe("refusals", () => {
  const funnel = withVariables({ range });

  it("answers 401 to anonymous callers and bad tokens, with a JSON reason", async () => {
    for (const token of [undefined, "lrk_not-a-real-key"]) {
      for (const path of ["funnel.csv", "events.csv"]) {
        const res = await download(path, token, path === "events.csv" ? range : funnel);
        expect(res.status).toBe(401);
        expect(await res.json()).toMatchObject({ code: "UNAUTHENTICATED", message: expect.any(String), fieldErrors: [] });
      }
    }
  });

  it("answers 403 to a key without the analytics scope; the owner holds analytics", async () => {
    for (const path of ["funnel.json", "events.jsonl"]) {
      const res = await download(path, tokens.issueKey, path === "events.jsonl" ? range : funnel);
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({ code: "FORBIDDEN", fieldErrors: [] });
    }
    expect((await download("funnel.json", t.token, funnel)).status).toBe(200);
  });

  it("answers 400 with the GraphQL operation's field errors for a bad range", async () => {
    const cases: [Any, string[]][] = [
      [{ from: "2026-03-01T00:07:00Z", to: "2026-03-02T00:00:00Z" }, ["range", "from"]],
      [{ from: "2026-03-02T00:00:00Z", to: "2026-03-01T00:00:00Z" }, ["range", "to"]],
      [{ from: "2020-01-01T00:00:00Z", to: "2026-01-01T00:00:00Z" }, ["range", "to"]],
    ];
    for (const [bad, path] of cases) {
      const res = await download("funnel.csv", tokens.analyst, withVariables({ range: bad }));
      expect(res.status).toBe(400);
      const body = await res.json();
      expect(body).toMatchObject({ code: "BAD_USER_INPUT", message: expect.any(String) });
      expect(body.fieldErrors.map((e: Any) => e.path)).toContainEqual(path);
    }
    for (const variables of [{ variables: "{not json" }, {}, withVariables({}), withVariables({ range: { from: "yesterday" } })]) {
      const res = await download("breakdown.json", tokens.analyst, variables);
      expect(res.status).toBe(400);
      // A missing required variable was GRAPHQL_PARSE_FAILED (QA): it is the caller's input.
      expect((await res.json()).code).toBe("BAD_USER_INPUT");
    }
  });

  it("refuses another tenant's template and bulk job ids as GraphQL does", async () => {
    const res = await download("breakdown.csv", tokens.analyticsKey, withVariables({ range, by: "TEMPLATE", filter: { templateIds: [other.templateNodeId] } }));
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.fieldErrors.map((e: Any) => e.path)).toEqual([["filter", "templateIds"]]);
    const mine = await download("breakdown.csv", tokens.analyticsKey, withVariables({ range, by: "TEMPLATE", filter: { templateIds: [t.templateNodeId] } }));
    expect(mine.status).toBe(200);
    const bulk = await other.owner.request(CreateBulkIssuanceDocument, { input: { templateId: other.templateNodeId, rows: [{ email: "bulk-other@example.test" }] } });
    if (bulk.createBulkIssuance.__typename !== "BulkJob") throw new Error(JSON.stringify(bulk));
    const theirs = await download("funnel.json", tokens.analyst, withVariables({ range, filter: { bulkJobId: bulk.createBulkIssuance.id } }));
    expect(theirs.status).toBe(400);
    expect((await theirs.json()).fieldErrors.map((e: Any) => e.path)).toEqual([["filter", "bulkJobId"]]);
  });

  it("answers 400 for an event range that is missing, reversed or longer than 3 years", async () => {
    const cases: [Record<string, string>, string][] = [
      [{ to: range.to }, "from"],
      [{ from: "last week", to: range.to }, "from"],
      [{ from: range.to, to: range.from }, "to"],
      [{ from: "2020-01-01T00:00:00Z", to: "2023-01-02T00:00:01Z" }, "to"],
      [{ from: "0000-01-01T00:00:00Z", to: "2020-01-01T00:00:00Z" }, "from"], // once a 500 from PostgreSQL
      [{ from: "2026-02-30", to: "2026-03-03" }, "from"], // was rolled over to 2 March
      [{ from: "2026-02-01", to: "2026-04-31" }, "to"],
      [{ from: "2026-02-01T10:00:00", to: "2026-03-01" }, "from"], // no offset
    ];
    for (const [params, field] of cases) {
      const res = await download("events.csv", tokens.analyst, params);
      expect(res.status).toBe(400);
      const body = await res.json();
      expect(body).toMatchObject({ code: "BAD_USER_INPUT", fieldErrors: [{ path: [field], message: expect.any(String) }] });
    }
    // A date alone is that day's midnight UTC.
    const dated = await download("events.csv", tokens.analyst, { from: "2026-02-28", to: "2026-03-01" });
    expect(dated.status).toBe(200);
    expect(dated.headers.get("content-disposition")).toContain("2026-02-28");
    await dated.arrayBuffer();
    // 15-minute alignment is not required here, and 3 years is allowed.
    expect((await download("events.csv", tokens.analyst, { from: "2023-01-01T00:00:01Z", to: "2026-01-01T00:00:00Z" })).status).toBe(200);
  });

  it("knows only its own export names", async () => {
    expect((await download("people.csv", tokens.analyst, funnel)).status).toBe(404);
    expect((await download("events.json", tokens.analyst, range)).status).toBe(404);
  });
});

describe("the event stream", () => {
  const COLUMNS = ["occurred_at", "type", "template_id", "bulk_job_id", "locale", "channel", "network", "format", "device_class", "machine"];

  it("has the tenant's events in time order, without any person, for an analyst and an analytics key", async () => {
    const [{ n }] = (await app.db.admin`select count(*)::int as n from engagement_events where tenant_id = ${t.tenantId}`) as unknown as [{ n: number }];
    // Recipients' email and name are sealed (sql/044): opened here, the rest read as stored.
    const opened = new Map((await openedRecipients(app, t.tenantId)).map((r) => [r.id, r]));
    const holders = await app.db.admin<{ id: string; recipient_id: string; external_id: string | null }[]>`
      select c.id, c.recipient_id, r.external_id
        from credentials c join recipients r on r.tenant_id = c.tenant_id and r.id = c.recipient_id where c.tenant_id = ${t.tenantId}`;
    const people = [
      ...holders.flatMap((h) => [h.id, h.recipient_id, opened.get(h.recipient_id)!.email, opened.get(h.recipient_id)!.name ?? "-", h.external_id ?? "-"].map((v) => ({ v: v as string }))),
      ...(await app.db.admin<{ v: string }[]>`
        select unnest(array[id::text, coalesce(ip_hash, '-'), coalesce(message_id::text, '-')]) as v from engagement_events where tenant_id = ${t.tenantId}
        union select id::text from email_outbox where tenant_id = ${t.tenantId}`),
    ];
    for (const token of [tokens.analyst, tokens.analyticsKey]) {
      const res = await download("events.csv", token, range);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="laurel-events_.+\.csv"$/);
      const text = await res.text();
      const [header, ...rows] = parse(text) as string[][];
      expect(header).toEqual(COLUMNS);
      expect(rows).toHaveLength(n);
      expect(rows.map((r) => r[0]!)).toEqual(rows.map((r) => r[0]!).sort());
      for (const value of people.map((p) => p.v).filter((v) => v !== "-")) expect(text).not.toContain(value);
      // The template of every event; bulk job and locale only where the event kept its credential.
      expect(new Set(rows.map((r) => r[2]))).toEqual(new Set([t.templateNodeId]));
      const anonymous = rows.filter((r) => r[4] === "" && r[3] === "");
      expect(anonymous).toHaveLength(4); // the consent-withheld recipient's four events
      expect(rows.filter((r) => r[4] === "pt-BR")).toHaveLength(4);
      expect(rows.filter((r) => r[6] === `'${FORMULA}`)).toHaveLength(1); // a formula, as text
      expect(rows.some((r) => r[6] === FORMULA)).toBe(false);
      expect(new Set(rows.map((r) => r[9]))).toEqual(new Set(["true", "false"]));
    }
  });

  it("comes as JSON lines with the same columns and values", async () => {
    const csv = parse(await (await download("events.csv", tokens.analyst, range)).text(), { columns: true }) as Record<string, string>[];
    const res = await download("events.jsonl", tokens.analyst, range);
    expect(res.headers.get("content-type")).toBe("application/jsonl; charset=utf-8");
    const lines = (await res.text()).trimEnd().split("\n").map((l) => JSON.parse(l) as Any);
    expect(lines).toHaveLength(csv.length);
    expect(Object.keys(lines[0]!)).toEqual(COLUMNS);
    expect(lines.map((l) => ({ ...Object.fromEntries(COLUMNS.map((c) => [c, cell(l[c])])), network: l.network === FORMULA ? `'${FORMULA}` : cell(l.network) }))).toEqual(csv);
    expect(lines.find((l) => l.type === "DOWNLOADED")).toMatchObject({ format: "pdf", channel: "web", machine: false });
  });

  it("streams a range larger than one cursor batch, in order, without the other tenant's events", async () => {
    // Arranged directly: 9,000 events over the last day for the other tenant (the stream reads raw rows only).
    await app.db.admin`
      insert into engagement_events (tenant_id, occurred_at, type, template_id, channel, ua_class, machine)
      select ${other.tenantId}, now() - (i * interval '9 seconds'), 'page_viewed', t.id, 'web', 'desktop', false
        from generate_series(1, 9000) i, (select id from templates where tenant_id = ${other.tenantId} limit 1) t`;
    const key = (await createKey(app, other.owner, ["analytics"])).secret;
    const res = await download("events.jsonl", key, range);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBeNull(); // streamed, not sized up front
    const lines = (await res.text()).trimEnd().split("\n").map((l) => JSON.parse(l) as Any);
    expect(lines).toHaveLength(9004);
    expect(lines.map((l) => l.occurred_at)).toEqual(lines.map((l) => l.occurred_at).sort());
    expect(lines.every((l) => l.template_id === other.templateNodeId)).toBe(true);
  });

  it("is withheld while the tenant suppresses small groups, and offered again at 1", async () => {
    await app.db.admin`update tenants set minimum_group_size = 5 where id = ${other.tenantId}`;
    const key = (await createKey(app, other.owner, ["analytics"])).secret;
    const res = await download("events.csv", key, range);
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ code: "SUPPRESSION_IN_FORCE" });
    await app.db.admin`update tenants set minimum_group_size = 1 where id = ${other.tenantId}`;
    expect((await download("events.csv", key, range)).status).toBe(200);
  });
});
