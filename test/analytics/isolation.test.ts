// Issue 9, items 6 and 8: the tenant wall and "no person in sight" for every analytics operation (and
// the export downloads). Another tenant naming this tenant's templates or bulk jobs gets a
// ValidationError naming the field, never data; one tenant's answers never move when another tenant
// gets events, credentials, status changes, emails, a new zone, compaction or a rebuild; analysts and
// analytics keys may ask, keys and roles without analytics are FORBIDDEN, nobody signed in is
// UNAUTHENTICATED; and a walk of every answer (all groupings, every field the schema lets an analyst
// select, recursively) finds no recipient name, email, recipient id or credential id, plain or inside
// a global id.
import { readFileSync } from "node:fs";
import {
  buildSchema,
  getNamedType,
  isEnumType,
  isInterfaceType,
  isNonNullType,
  isObjectType,
  isScalarType,
  isUnionType,
  type GraphQLNamedType,
  type GraphQLSchema,
} from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AcceptInvitationDocument,
  AnalyticsSettingsDocument,
  DeliveryHealthDocument,
  EngagementBreakdownDocument,
  EngagementFunnelDocument,
  EngagementLatencyDocument,
  EngagementTimeSeriesDocument,
  InviteMemberDocument,
  IssueCredentialDocument,
  RevokeCredentialDocument,
  SetMinimumGroupSizeDocument,
  TopTemplatesDocument,
  UpdateTenantDocument,
  type ApiKeyScope,
} from "../../src/sdk/generated.js";
import type { LaurelClient } from "../../src/sdk/index.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createKey, uniqueEmail } from "../helpers/factories.js";
import { buildWorld, floorSlot, globalId, seededRng, type Rng, type World, type WorldTenant } from "./setup.js";
import { openedRecipients, tokenSentTo } from "../helpers/sealed.js";

let app: TestApp;
let rng: Rng;
let world: World;
let schema: GraphQLSchema;
const started = Date.now();

beforeAll(async () => {
  app = await startTestApp();
  rng = seededRng();
  world = await buildWorld(app, rng);
  schema = buildSchema(readFileSync(new URL("../../schema/schema.graphql", import.meta.url), "utf8"));
}, 120_000);
afterAll(async () => {
  await app?.close();
  console.log(`isolation.test.ts total ${Date.now() - started} ms`);
});

const seedNote = () => `seed ${rng.seed} (ANALYTICS_SEED=${rng.seed})`;
const now = Date.now();
const WHOLE = { from: new Date(floorSlot(now - 1090 * 86400_000)).toISOString(), to: new Date(floorSlot(now) + 2 * 3600_000).toISOString() };
const RECENT = { from: new Date(floorSlot(now - 30 * 3600_000)).toISOString(), to: new Date(floorSlot(now) + 3600_000).toISOString() };

type Op = { name: string; field: string; document: any; variables: Record<string, unknown> };

/** One call of each analytics operation (with `filter` merged in where the operation takes it). */
function operations(filter: Record<string, unknown> = {}, range = WHOLE): Op[] {
  return [
    { name: "funnel", field: "engagementFunnel", document: EngagementFunnelDocument, variables: { range, filter, groupBy: "TEMPLATE" } },
    { name: "timeSeries", field: "engagementTimeSeries", document: EngagementTimeSeriesDocument, variables: { range, interval: "MONTH", filter, compareWithPreviousPeriod: true } },
    { name: "breakdown", field: "engagementBreakdown", document: EngagementBreakdownDocument, variables: { range, by: "TEMPLATE", filter } },
    { name: "topTemplates", field: "topTemplates", document: TopTemplatesDocument, variables: { range, by: "VIEWS", measure: "EVENTS", filter } },
    { name: "latency", field: "engagementLatency", document: EngagementLatencyDocument, variables: { range, filter } },
    { name: "deliveryHealth", field: "deliveryHealth", document: DeliveryHealthDocument, variables: { range, groupBy: "TEMPLATE", interval: "MONTH", filter } },
  ];
}

async function joined(tenant: WorldTenant, role: "analyst" | "issuer" | "viewer"): Promise<{ client: LaurelClient; token: string }> {
  const email = uniqueEmail(role);
  await tenant.owner.request(InviteMemberDocument, { input: { email, role } });
  const row = { token: await tokenSentTo(app, email) };
  const accepted = await app.client().request(AcceptInvitationDocument, { input: { token: row!.token, name: `${role} person`, password: "a long enough password" } });
  if (accepted.acceptInvitation.__typename !== "AcceptInvitationPayload") throw new Error(JSON.stringify(accepted));
  return { client: app.client(accepted.acceptInvitation.token!), token: accepted.acceptInvitation.token! };
}

function download(path: string, token: string | null, params: Record<string, string>) {
  const query = new URLSearchParams(params).toString();
  return fetch(`${app.server.url}/analytics/exports/${path}?${query}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
}
const EXPORT_NAMES: Record<string, string> = {
  funnel: "funnel", timeSeries: "time-series", breakdown: "breakdown", topTemplates: "top-templates", latency: "latency", deliveryHealth: "delivery-health",
};

describe("the tenant wall", () => {
  it("another tenant naming this tenant's templates or bulk jobs gets a ValidationError naming the field, never data (GraphQL and exports)", async () => {
    const a = world.a;
    const b = world.b;
    const foreign = [
      { filter: { templateIds: [a.templates[0]!.nodeId] }, field: "templateIds" },
      { filter: { templateIds: [b.templates[0]!.nodeId, a.templates[1]!.nodeId] }, field: "templateIds" },
      { filter: { templateIds: [globalId("Template", "3f1e7a52-8d4c-4b7e-9a55-0c6b2f6d9e10")] }, field: "templateIds" },
      { filter: { templateIds: [a.credentials[0]!.nodeId] }, field: "templateIds" },
      { filter: { bulkJobId: a.bulkJobs[0]!.nodeId }, field: "bulkJobId" },
      { filter: { bulkJobId: a.templates[0]!.nodeId }, field: "bulkJobId" },
    ];
    const problems: string[] = [];
    for (const { filter, field } of foreign) {
      for (const op of operations(filter)) {
        // Which operations take the field at all (others refuse it as a ValidationError too).
        const vars = op.name === "breakdown" && field === "bulkJobId" ? { ...op.variables, by: "BULK_JOB" } : op.variables;
        const res = (await b.owner.request(op.document, vars as never)) as Record<string, any>;
        const answer = res[op.field];
        const where = `${op.name} as B with ${JSON.stringify(filter)}`;
        if (answer.__typename !== "ValidationError") problems.push(`${where}: ${answer.__typename} ${JSON.stringify(answer).slice(0, 300)}`);
        else {
          if (!answer.fieldErrors.some((e: { path: string[] }) => e.path.join(".") === `filter.${field}`)) problems.push(`${where}: fieldErrors ${JSON.stringify(answer.fieldErrors)}`);
          for (const t of a.templates) if (JSON.stringify(answer).includes(t.name)) problems.push(`${where}: names A's template ${t.name}`);
        }
        // The same through the download, with B's own credentials (one foreign template, one foreign bulk job).
        if (filter !== foreign[0]!.filter && filter !== foreign[4]!.filter) continue;
        const csv = await download(`${EXPORT_NAMES[op.name]}.json`, b.token, { variables: JSON.stringify(vars) });
        const body = await csv.text();
        if (csv.status !== 400) problems.push(`${where} export: HTTP ${csv.status} ${body.slice(0, 200)}`);
        else if (!JSON.parse(body).fieldErrors?.some((e: { path: string[] }) => e.path.join(".") === `filter.${field}`)) problems.push(`${where} export: ${body.slice(0, 300)}`);
      }
    }
    expect(problems, `${seedNote()}\n${problems.join("\n")}`).toEqual([]);
  }, 120_000);

  it("one tenant's answers never move when another gets credentials, events, status changes, emails, a new zone, compaction and a rebuild", async () => {
    const a = world.a;
    const b = world.b;
    const variants = [{ includeMachine: true }, { templateIds: [a.templates[0]!.nodeId] }];
    const read = async () => {
      const out: Record<string, unknown> = {};
      for (const [i, f] of variants.entries()) {
        for (const op of operations(f)) {
          if (op.name === "latency" || op.name === "deliveryHealth") {
            if ("includeMachine" in f) continue;
          }
          out[`${op.name} ${i}`] = await a.owner.request(op.document, op.variables as never);
        }
        for (const op of operations(f, RECENT)) {
          if ((op.name === "latency" || op.name === "deliveryHealth") && "includeMachine" in f) continue;
          out[`${op.name} recent ${i}`] = await a.owner.request(op.document, { ...op.variables, ...(op.name === "timeSeries" ? { interval: "HOUR" } : {}) } as never);
        }
      }
      return out;
    };
    const before = await read();
    const bFunnelBefore = await b.owner.request(EngagementFunnelDocument, { range: WHOLE });

    // B: new credentials, events (in batches that also carry A's ids under B's tenant, which must be
    // refused row by row), a revocation, email outcomes, a zone change, compaction and a rebuild.
    const fresh = [];
    for (let i = 0; i < 3; i++) {
      const res = await b.owner.request(IssueCredentialDocument, {
        input: { templateId: b.templates[0]!.nodeId, recipient: { email: uniqueEmail("b"), name: "Bea Other", locale: "fr" } },
      });
      if (res.issueCredential.__typename !== "Credential") throw new Error(JSON.stringify(res.issueCredential));
      fresh.push(res.issueCredential.id);
    }
    const bCreds = (await app.db.admin<{ id: string }[]>`select id from credentials where tenant_id = ${b.tenantId}`).map((r) => r.id);
    const batch = Array.from({ length: 120 }, (_, i) => ({
      tenant_id: b.tenantId,
      // Every fifth names one of A's credentials under B's tenant: record_engagement_events drops it.
      credential_id: i % 5 === 0 ? rng.pick(a.credentials).id : rng.pick(bCreds),
      type: rng.pick(["page_viewed", "shared", "verified", "email_opened", "downloaded", "claimed"]),
      channel: "web",
      ua_class: rng.pick(["desktop", "bot"]),
      machine: rng.chance(0.2),
      occurred_at: new Date(Date.now() - rng.int(60, 20 * 3600) * 1000).toISOString(),
    }));
    await app.db.admin`select record_engagement_events(${app.db.admin.json(batch as never)})`;
    await b.owner.request(RevokeCredentialDocument, { id: fresh[0]!, input: { reason: "Test" } });
    await app.db.admin`update email_outbox set status = 'sent', provider = 'resend', provider_message_id = ${`re_b_${Date.now()}`}, from_address = 'b@other.example'
                        where id = (select id from email_outbox where tenant_id = ${b.tenantId} and credential_id is not null order by id limit 1)`;
    await app.db.admin`select * from apply_email_event(${`evt_b_${Date.now()}`}, (select provider_message_id from email_outbox where tenant_id = ${b.tenantId} and provider = 'resend' limit 1), 'email.delivered', now(), null)`;
    await b.owner.request(UpdateTenantDocument, { input: { timeZone: "Pacific/Chatham" } });
    await app.db.admin`select compact_engagement_analytics(${b.tenantId})`;
    await app.db.admin`select rebuild_engagement_analytics(${b.tenantId})`;
    await app.db.admin`select compact_engagement_analytics(null)`;

    const after = await read();
    const changed = Object.keys(before).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
    expect(changed, `${seedNote()}: A's answers changed: ${changed.join(", ")}`).toEqual([]);

    // And B's own funnel counts B's credentials only.
    const bFunnel = await b.owner.request(EngagementFunnelDocument, { range: WHOLE });
    const [{ n }] = (await app.db.admin`select count(*)::int as n from credentials where tenant_id = ${b.tenantId}`) as unknown as [{ n: number }];
    expect(bFunnel.engagementFunnel.__typename === "EngagementFunnel" && bFunnel.engagementFunnel.stages[0]!.credentials, seedNote()).toBe(n);
    expect(bFunnelBefore.engagementFunnel.__typename === "EngagementFunnel" && bFunnelBefore.engagementFunnel.stages[0]!.credentials, seedNote()).toBe(n - 3);
  }, 120_000);
});

describe("who may ask", () => {
  it("analysts and analytics keys may; keys and roles without analytics are FORBIDDEN; nobody signed in is UNAUTHENTICATED", async () => {
    const a = world.a;
    const analyst = (await joined(a, "analyst")).client;
    const analyticsKey = await createKey(app, a.owner, ["analytics"]);
    for (const [who, client] of [["analyst", analyst], ["analytics key", analyticsKey.client]] as const) {
      for (const op of operations()) {
        const res = (await client.request(op.document, op.variables as never)) as Record<string, any>;
        expect(res[op.field].__typename, `${who} ${op.name}`).not.toBe("ValidationError");
      }
      expect((await client.request(AnalyticsSettingsDocument)).tenant.minimumGroupSize, who).toBe(1);
      await expect(client.request(SetMinimumGroupSizeDocument, { minimumGroupSize: 5 }), `${who} sets minimumGroupSize`).rejects.toMatchObject({ code: "FORBIDDEN" });
    }
    const refused: [string, LaurelClient][] = [["issuer", (await joined(a, "issuer")).client], ["viewer", (await joined(a, "viewer")).client]];
    for (const scopes of [["read"], ["issue"], ["export"], ["admin"], ["read", "issue", "export", "admin"]] as ApiKeyScope[][]) {
      refused.push([`key ${scopes.join("+")}`, (await createKey(app, a.owner, scopes)).client]);
    }
    for (const [who, client] of refused) {
      for (const op of operations()) await expect(client.request(op.document, op.variables as never), `${who} ${op.name}`).rejects.toMatchObject({ code: "FORBIDDEN" });
    }
    for (const op of operations()) {
      await expect(app.client().request(op.document, op.variables as never), `anonymous ${op.name}`).rejects.toMatchObject({ code: "UNAUTHENTICATED" });
      await expect(app.client("lk_not_a_real_key").request(op.document, op.variables as never), `bad token ${op.name}`).rejects.toMatchObject({ code: "UNAUTHENTICATED" });
    }
    // The downloads answer the same way.
    const keyWithout = (await createKey(app, a.owner, ["read", "export"])).secret;
    for (const op of operations()) {
      const params = { variables: JSON.stringify(op.variables) };
      expect((await download(`${EXPORT_NAMES[op.name]}.json`, analyticsKey.secret, params)).status, `key ${op.name} export`).toBe(200);
      expect((await download(`${EXPORT_NAMES[op.name]}.csv`, keyWithout, params)).status, `key without analytics ${op.name} export`).toBe(403);
      expect((await download(`${EXPORT_NAMES[op.name]}.csv`, null, params)).status, `anonymous ${op.name} export`).toBe(401);
    }
    expect((await download("events.jsonl", keyWithout, { from: RECENT.from, to: RECENT.to })).status).toBe(403);
    expect((await download("events.csv", null, { from: RECENT.from, to: RECENT.to })).status).toBe(401);
  }, 120_000);
});

// ---------------------------------------------------------------------------------------------
// No person in sight

/** A selection of every field of `type` an analyst could ask for (no required arguments), `depth` levels down. */
function everything(type: GraphQLNamedType, depth: number): string {
  if (isScalarType(type) || isEnumType(type)) return "";
  if (isUnionType(type)) return `{ __typename ${type.getTypes().map((t) => `... on ${t.name} ${everything(t, depth)}`).join(" ")} }`;
  if (!isObjectType(type) && !isInterfaceType(type)) return "";
  const fields: string[] = ["__typename"];
  for (const field of Object.values(type.getFields())) {
    if (field.args.some((a) => isNonNullType(a.type) && a.defaultValue === undefined)) continue;
    const named = getNamedType(field.type);
    const args = field.args.some((a) => a.name === "first") ? "(first: 5)" : "";
    if (isScalarType(named) || isEnumType(named)) fields.push(field.name);
    else if (depth > 0) fields.push(`${field.name}${args} ${everything(named, depth - 1)}`);
  }
  return `{ ${fields.join(" ")} }`;
}

/** Every string in a JSON value, with where it was. */
function strings(value: unknown, path = "$", out: [string, string][] = []): [string, string][] {
  if (typeof value === "string") out.push([path, value]);
  else if (Array.isArray(value)) value.forEach((v, i) => strings(v, `${path}[${i}]`, out));
  else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) strings(v, `${path}.${k}`, out);
  return out;
}

/** What no analytics answer may hold: recipients' names and emails, recipient and credential ids (and their global ids). */
async function personalNeedles(tenant: WorldTenant): Promise<string[]> {
  const recipients = await openedRecipients(app, tenant.tenantId);
  const credentials = await app.db.admin<{ id: string }[]>`select id from credentials where tenant_id = ${tenant.tenantId}`;
  return [
    ...new Set([
      ...recipients.flatMap((r) => [r.id, r.email, ...(r.name ? [r.name] : []), globalId("Recipient", r.id)]),
      ...credentials.flatMap((c) => [c.id, globalId("Credential", c.id)]),
    ]),
  ].map((s) => s.toLowerCase());
}

function findPeople(answer: unknown, needles: string[]): string[] {
  const found: string[] = [];
  for (const [path, raw] of strings(answer)) {
    const forms = [raw.toLowerCase()];
    // Anything that could be base64 (a global id, a cursor) is read decoded as well.
    if (/^[A-Za-z0-9+/_-]{8,}={0,2}$/.test(raw)) forms.push(Buffer.from(raw, "base64").toString("utf8").toLowerCase());
    for (const form of forms) for (const n of needles) if (form.includes(n)) found.push(`${path}: ${raw} holds ${n}`);
  }
  return found;
}

describe("no person in sight", () => {
  it("the walk finds a person when one is there (the detector works)", async () => {
    const needles = await personalNeedles(world.a);
    const c = world.a.credentials[0]!;
    expect(findPeople({ x: [{ y: globalId("Credential", c.id) }] }, needles)).not.toEqual([]);
    expect(findPeople({ key: `row ${c.recipientId}` }, needles)).not.toEqual([]);
    expect(findPeople({ label: "Template X" }, needles)).toEqual([]);
  });

  it("no analytics answer, in any grouping and with every field an analyst can select, names a recipient or a credential", async () => {
    const a = world.a;
    const tokens = [["analyst", (await joined(a, "analyst")).token], ["analytics key", (await createKey(app, a.owner, ["analytics"])).secret]] as const;
    const needles = await personalNeedles(a);
    const query = schema.getQueryType()!;
    const args: Record<string, string> = {
      engagementFunnel: "range: $range, groupBy: $groupBy, filter: $filter",
      engagementTimeSeries: "range: $range, interval: $interval, compareWithPreviousPeriod: true, filter: $filter",
      engagementBreakdown: "range: $range, by: $by, filter: $filter",
      topTemplates: "range: $range, by: $top, measure: $measure, first: 100, filter: $filter",
      engagementLatency: "range: $range",
      deliveryHealth: "range: $range, groupBy: $delivery, interval: $interval",
    };
    // One request per operation (the server limits a query's breadth), each selecting everything.
    const VAR_TYPES: Record<string, string> = {
      range: "AnalyticsRangeInput!", groupBy: "FunnelGroupBy", filter: "AnalyticsFilterInput", interval: "AnalyticsInterval!", by: "BreakdownDimension!",
      top: "TopTemplatesMeasure!", measure: "AnalyticsMeasure!", delivery: "DeliveryGroupBy",
    };
    const documents = Object.entries(args).map(([field, a]) => {
      const vars = Object.keys(VAR_TYPES).filter((v) => a.includes(`$${v}`));
      return {
        field,
        vars,
        query: `query Walk(${vars.map((v) => `$${v}: ${VAR_TYPES[v]}`).join(", ")}) { ${field}(${a}) ${everything(getNamedType(query.getFields()[field]!.type), 5)} tenant { id minimumGroupSize timeZone } }`,
      };
    });
    // Every funnel grouping, breakdown dimension, ranking, delivery grouping and interval at least once.
    const groupings = ["TEMPLATE", "BULK_JOB", "LOCALE", "STATUS", null];
    const dims = ["TEMPLATE", "BULK_JOB", "CHANNEL", "NETWORK", "DEVICE_CLASS", "FORMAT", "LOCALE"];
    const tops = ["VIEWS", "SHARES", "LINKEDIN_ADDS", "VERIFICATIONS"];
    const deliveries = ["NONE", "TEMPLATE", "SENDER_DOMAIN"];
    const intervals = ["HOUR", "DAY", "WEEK", "MONTH"];
    const combos = dims.map((by, i) => ({
      groupBy: groupings[i % groupings.length], by, top: tops[i % tops.length], measure: i % 2 ? "EVENTS" : "CREDENTIALS",
      delivery: deliveries[i % deliveries.length], interval: intervals[i % intervals.length], filter: i % 2 ? { includeMachine: true } : {},
    }));
    const problems: string[] = [];
    let walked = 0;
    for (const [n, combo] of combos.entries()) {
      const range = combo.interval === "HOUR" ? RECENT : WHOLE;
      // The analyst asks everything; the analytics key the first two combinations (the same answers).
      for (const [who, token] of n < 2 ? tokens : tokens.slice(0, 1)) {
        for (const d of documents) {
          const variables = Object.fromEntries(d.vars.map((v) => [v, v === "range" ? range : (combo as Record<string, unknown>)[v]]));
          const res = await app.post({ query: d.query, variables }, { authorization: `Bearer ${token}` });
          if (res.status !== 200 || res.json.errors) {
            problems.push(`${who} ${d.field} combo ${n}: HTTP ${res.status} ${JSON.stringify(res.json.errors ?? res.json).slice(0, 400)}`);
            continue;
          }
          walked += strings(res.json.data).length;
          for (const f of findPeople(res.json.data, needles)) problems.push(`${who} ${d.field} combo ${n} ${JSON.stringify(combo)}: ${f}`);
        }
      }
    }
    const key = { secret: tokens[1][1] };
    // The downloads of each result and the anonymised event stream.
    for (const op of operations({ includeMachine: true })) {
      if (op.name === "latency" || op.name === "deliveryHealth") op.variables.filter = {};
      for (const format of ["json", "csv"]) {
        const res = await download(`${EXPORT_NAMES[op.name]}.${format}`, key.secret, { variables: JSON.stringify(op.variables) });
        const text = await res.text();
        if (res.status !== 200) problems.push(`export ${op.name}.${format}: HTTP ${res.status} ${text.slice(0, 200)}`);
        for (const f of findPeople(text.split(/[\s,;"{}[\]:]+/), needles)) problems.push(`export ${op.name}.${format}: ${f}`);
      }
    }
    for (const format of ["jsonl", "csv"]) {
      const res = await download(`events.${format}`, key.secret, { from: WHOLE.from, to: WHOLE.to });
      const text = await res.text();
      if (res.status !== 200) problems.push(`export events.${format}: HTTP ${res.status} ${text.slice(0, 200)}`);
      const lines = text.split("\n").filter(Boolean);
      if (lines.length < 100) problems.push(`export events.${format}: only ${lines.length} lines`);
      for (const f of findPeople(text.split(/[\s,;"{}[\]:]+/), needles)) problems.push(`export events.${format}: ${f}`);
    }
    expect(problems.slice(0, 30), `${seedNote()}\n${problems.slice(0, 30).join("\n")}`).toEqual([]);
    expect(walked, seedNote()).toBeGreaterThan(1000);
  }, 120_000);
});
