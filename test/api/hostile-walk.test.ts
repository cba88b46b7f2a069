// Every operation, called with hostile but well-formed input, answers with a typed result or a code:
// never INTERNAL_SERVER_ERROR. The fields come from the schema itself (every Query and Mutation field,
// and every field with arguments on a type reachable from Query), called as an owner, anonymously and
// with a key that can do little.
import { randomUUID } from "node:crypto";
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLObjectType,
} from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { schema } from "../../src/schema.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createKey } from "../helpers/factories.js";
import { expectedNodeType, globalId, leavesOf, routes, seedTenant, type Route, type SeededTenant } from "../helpers/schema-walk.js";

let app: TestApp;
let a: SeededTenant;
let b: SeededTenant;
let lowKey: string;

beforeAll(async () => {
  app = await startTestApp();
  [a, b] = await Promise.all([seedTenant(app, "Walked University"), seedTenant(app, "Other University")]);
  // The owner walks its own API keys: the walker's own key must not be the one it may revoke.
  lowKey = (await createKey(app, a.tenant.owner, ["analytics"], "low")).secret;
}, 120_000);
afterAll(async () => app.close());

const LONG = "x".repeat(10_000);

/** What each argument gets: one family of hostile values at a time, the rest plausible. */
interface Family {
  name: string;
  text: string;
  int: number;
  float: number;
  date: string;
  email: string;
  url: string;
  json: unknown;
  id: (expectedType: string | null) => string;
  uuid: string;
}

function families(): Family[] {
  const own = (type: string | null) => a.ids[type ?? "Template"] ?? a.ids.Template!;
  const plausible: Family = {
    name: "plausible",
    text: "walker",
    int: 1,
    float: 1,
    date: "2026-01-01T00:00:00Z",
    email: "walker@example.test",
    url: "https://example.org/walk",
    json: {},
    id: own,
    uuid: a.tenant.tenantId,
  };
  const texts: [string, string][] = [["empty", ""], ["NUL", "a\u0000b"], ["lone surrogate", "a\ud800b"], ["10k characters", LONG]];
  return [
    plausible,
    ...texts.map(([name, text]) => ({ ...plausible, name, text, email: text === "" ? "" : `${text.slice(0, 60)}@example.test`, url: `https://example.org/${text}`, json: { [text.slice(0, 20)]: text }, int: 0, float: 0 })),
    { ...plausible, name: "huge numbers, far future", int: 2_147_483_647, float: 1e308, date: "9999-12-31T23:59:59.999Z" },
    { ...plausible, name: "negative numbers, far past", int: -2_147_483_648, float: -1e308, date: "0001-01-01T00:00:00Z" },
    { ...plausible, name: "wrong-type ids", id: (t) => (t === "AuditLogEntry" ? a.ids.Tenant! : a.ids.AuditLogEntry!), uuid: randomUUID() },
    { ...plausible, name: "random UUIDs", id: (t) => globalId(t ?? "Template", randomUUID()), uuid: randomUUID() },
    { ...plausible, name: "not ids", id: () => "not-a-global-id", uuid: "00000000-0000-0000-0000-000000000000" },
    ...Object.keys(b.ids).map((type) => ({ ...plausible, name: `another tenant's ${type}`, id: () => b.ids[type]!, uuid: b.tenant.tenantId })),
  ];
}

function valueFor(type: GraphQLInputType, family: Family, field: GraphQLField<unknown, unknown>, argName: string): unknown {
  if (isNonNullType(type)) return valueFor(type.ofType, family, field, argName);
  // A page is asked for one way (last/before would only meet "not both"), and a bad cursor is refused
  // before anything else is looked at: hostile cursors come with the families whose text is harmless.
  if (argName === "last" || argName === "before" || (argName === "after" && !["empty", "10k characters"].includes(family.name))) return null;
  if (isListType(type)) return [valueFor(type.ofType, family, field, argName)];
  if (isInputObjectType(type)) {
    return Object.fromEntries(Object.values(type.getFields()).map((f) => [f.name, valueFor(f.type, family, field, f.name)]));
  }
  if (isEnumType(type)) return type.getValues()[0]!.name;
  switch (getNamedType(type).name) {
    case "String":
      return family.text;
    case "ID":
      return family.id(expectedNodeType(schema, field, argName));
    case "Int":
      return family.int;
    case "Float":
      return family.float;
    case "Boolean":
      return true;
    case "DateTime":
      // The end of a range a day after its start, so a plausible range is one.
      return /^(to|until|validUntil)$/.test(argName) ? new Date(Date.parse(family.date) + 86_400_000).toISOString() : family.date;
    case "UUID":
      return family.uuid;
    case "EmailAddress":
      return family.email;
    case "URL":
      return family.url;
    case "JSON":
      return family.json;
    default:
      return null; // File: sent as a multipart upload (see request)
  }
}

/** What a File argument gets: empty, NUL bytes, or bytes that are no image at all. */
const FILES: Record<string, Uint8Array> = {
  plausible: new TextEncoder().encode("not an image"),
  empty: new Uint8Array(),
  NUL: new Uint8Array(64),
  "10k characters": new TextEncoder().encode(LONG),
};

interface Call {
  label: string;
  operation: "query" | "mutation";
  field: GraphQLField<unknown, unknown>;
  route: Route | null;
}

/** Every Query and Mutation field, and every field with arguments on an object type reachable from Query. */
function calls(): Call[] {
  const list: Call[] = [];
  for (const field of Object.values(schema.getMutationType()!.getFields())) list.push({ label: `Mutation.${field.name}`, operation: "mutation", field, route: null });
  for (const field of Object.values(schema.getQueryType()!.getFields())) list.push({ label: `Query.${field.name}`, operation: "query", field, route: null });
  for (const [typeName, found] of routes(schema, a.ids, 4)) {
    if (typeName === "Query") continue;
    const route = found[0]!;
    for (const field of Object.values((route.type as GraphQLObjectType).getFields())) {
      if (field.args.length) list.push({ label: `${route.description}.${field.name}`, operation: "query", field, route });
    }
  }
  return list;
}

/** Destructive fields run after the rest, so the rest still find the objects they act on. */
const LAST = /^(archive|delete|revoke|remove|logOut|rotate|switch)/;

function request(call: Call, family: Family) {
  const variables: Record<string, unknown> = {};
  const definitions: string[] = [];
  const files: Record<string, Uint8Array> = {};
  for (const [name, v] of Object.entries(call.route?.variables ?? {})) {
    variables[name] = v.value;
    definitions.push(`$${name}: ${v.type}`);
  }
  const args = call.field.args.map((arg) => {
    variables[`a_${arg.name}`] = valueFor(arg.type, family, call.field, arg.name);
    if (getNamedType(arg.type).name === "File") files[`a_${arg.name}`] = FILES[family.name] ?? FILES.plausible!;
    definitions.push(`$a_${arg.name}: ${String(arg.type)}`);
    return `${arg.name}: $a_${arg.name}`;
  });
  const selection = `${call.field.name}${args.length ? `(${args.join(", ")})` : ""} ${leavesOf(call.field.type)}`;
  const body = call.route ? call.route.wrap(selection) : selection;
  return { query: `${call.operation}${definitions.length ? `(${definitions.join(", ")})` : ""} { ${body} }`, variables, files };
}

/** POSTs a GraphQL request; with files, as a GraphQL multipart request. */
async function send(body: ReturnType<typeof request>, headers: Record<string, string>) {
  if (!Object.keys(body.files).length) return app.post({ query: body.query, variables: body.variables }, headers);
  const form = new FormData();
  const names = Object.keys(body.files);
  form.set("operations", JSON.stringify({ query: body.query, variables: body.variables }));
  form.set("map", JSON.stringify(Object.fromEntries(names.map((n, i) => [String(i), [`variables.${n}`]]))));
  names.forEach((n, i) => form.set(String(i), new Blob([body.files[n]! as BlobPart]), "walk.png"));
  const response = await fetch(app.graphqlUrl, { method: "POST", headers: { ...headers, "graphql-require-preflight": "1" }, body: form });
  const text = await response.text();
  return { status: response.status, json: JSON.parse(text) as any, headers: response.headers };
}

describe("every operation with hostile input", () => {
  it("answers typed results or codes, never INTERNAL_SERVER_ERROR, as an owner, anonymously and as a low-privileged key", async () => {
    const everything = calls();
    const labels = everything.map((c) => c.label);
    // The walk reaches nested arguments, not only the root fields.
    expect(labels).toEqual(expect.arrayContaining(["Mutation.issueCredential", "Query.node"]));
    for (const nested of [".emailMessages", ".recipients", ".auditLog", ".deliveries"]) expect(labels.some((l) => l.endsWith(nested)), nested).toBe(true);
    // Destructive fields last, and logOut at the very end: it ends the owner's session.
    const rank = (c: Call) => (c.label === "Mutation.logOut" ? 2 : c.operation === "mutation" && LAST.test(c.field.name) ? 1 : 0);
    const ordered = [...everything].sort((x, y) => rank(x) - rank(y));
    const callers: [string, Record<string, string>][] = [
      ["owner", { authorization: `Bearer ${a.tenant.token}` }],
      ["anonymous", {}],
      ["analytics key", { authorization: `Bearer ${lowKey}` }],
    ];
    const masked: string[] = [];
    let sent = 0;
    await Promise.all(
      callers.map(async ([caller, headers]) => {
        for (const call of ordered) {
          const seen = new Set<string>();
          for (const family of families()) {
            const body = request(call, family);
            const key = JSON.stringify([body.query, body.variables, Object.values(body.files).map((f) => f.length)]);
            if (seen.has(key)) continue; // a field without ids or text: one call per distinct input
            seen.add(key);
            const res = await send(body, headers);
            sent++;
            const text = JSON.stringify(res.json);
            if (res.status >= 500 || text.includes("INTERNAL_SERVER_ERROR")) masked.push(`${caller} ${call.label} [${family.name}]: ${res.status} ${text.slice(0, 300)}`);
          }
        }
      }),
    );
    expect(masked).toEqual([]);
    expect(sent).toBeGreaterThan(everything.length * 3);
  }, 600_000);
});
