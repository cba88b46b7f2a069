// The whole schema can be queried with overlapping selections: every field of every object type
// reachable from Query is asked for twice in one operation, under two aliases with different
// sub-selections, and every type reachable two ways is asked for both ways at once (the same row
// through two paths, as dashboards do). Only authorization errors may come back, and here none.
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
} from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { schema } from "../../src/schema.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { expectedNodeType, leavesOf, routes, seedTenant, selectionIn, type Route, type SeededTenant } from "../helpers/schema-walk.js";

let app: TestApp;
let a: SeededTenant;
let all: Map<string, Route[]>;

beforeAll(async () => {
  app = await startTestApp();
  a = await seedTenant(app, "Overlap University");
  all = routes(schema, a.ids, 5);
}, 120_000);
afterAll(async () => app.close());

/** A plausible literal for an argument the field cannot do without; null when it can. */
function literal(type: GraphQLInputType, field: GraphQLField<unknown, unknown>, arg: GraphQLArgument): string {
  if (isNonNullType(type)) return literal(type.ofType, field, arg);
  if (isListType(type)) return `[${literal(type.ofType, field, arg)}]`;
  if (isEnumType(type)) return type.getValues()[0]!.name;
  // An input object (analytics' range): its required fields, each by the same rules under its own name.
  if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields()).filter((f) => isNonNullType(f.type));
    return `{ ${fields.map((f) => `${f.name}: ${literal(f.type, field, f as unknown as GraphQLArgument)}`).join(", ")} }`;
  }
  switch (getNamedType(type).name) {
    case "ID":
      return JSON.stringify(a.ids[expectedNodeType(schema, field, arg.name) ?? "Template"]);
    case "DateTime":
      return JSON.stringify(/^(to|until)$/.test(arg.name) ? "2026-02-01T00:00:00Z" : "2026-01-01T00:00:00Z");
    case "Int":
      return "2";
    case "Boolean":
      return "true";
    default:
      return JSON.stringify("walk");
  }
}

function argsOf(field: GraphQLField<unknown, unknown>): string {
  const given = field.args
    .filter((arg) => (isNonNullType(arg.type) && arg.defaultValue === undefined) || arg.name === "first")
    .map((arg) => `${arg.name}: ${literal(arg.type, field, arg)}`);
  return given.length ? `(${given.join(", ")})` : "";
}

/** Two different sub-selections of a field's result: all its leaves; one leaf and its relations. */
const twoSelections = (field: GraphQLField<unknown, unknown>): [string, string] => [leavesOf(field.type), leavesOf(field.type, "relations")];

function operation(routeList: Route[], selections: string[]) {
  const variables: Record<string, unknown> = {};
  const definitions = new Set<string>();
  for (const route of routeList) {
    for (const [name, v] of Object.entries(route.variables)) {
      variables[name] = v.value;
      definitions.add(`$${name}: ${v.type}`);
    }
  }
  // Each way in under its own alias: two node(id:) roots with different ids may not share a name.
  const body = routeList.map((route, i) => (route.description === "Query" ? selections[i]! : `way${i}: ${route.wrap(selections[i]!)}`)).join(" ");
  return { query: `query${definitions.size ? `(${[...definitions].join(", ")})` : ""} { ${body} }`, variables };
}

const allowed = new Set(["FORBIDDEN", "UNAUTHENTICATED"]);

async function ask(body: { query: string; variables: Record<string, unknown> }, label: string, problems: string[]) {
  const res = await app.post(body, { authorization: `Bearer ${a.tenant.token}` });
  const errors = (res.json.errors ?? []) as { message: string; extensions?: { code?: string } }[];
  const bad = errors.filter((e) => !allowed.has(e.extensions?.code ?? ""));
  if (res.status !== 200 || bad.length) problems.push(`${label}: ${res.status} ${JSON.stringify(bad).slice(0, 400)}\n  ${body.query.slice(0, 300)}`);
}

describe("the whole schema, with overlapping selections", () => {
  it("answers every field asked twice under aliases with different sub-selections", async () => {
    const problems: string[] = [];
    let asked = 0;
    for (const [, found] of all) {
      const route = found[0]!;
      const fields = Object.values(route.type.getFields());
      // Seven fields, fourteen aliases, an operation: under the alias limit.
      for (let start = 0; start < fields.length; start += 7) {
        const selection = fields
          .slice(start, start + 7)
          .map((f) => {
            const [one, two] = twoSelections(f);
            return `one_${f.name}: ${f.name}${argsOf(f)} ${one} two_${f.name}: ${f.name}${argsOf(f)} ${two}`;
          })
          .join(" ");
        await ask(operation([route], [selection]), `${route.description} fields ${start + 1}-${start + 7}`, problems);
        asked++;
      }
    }
    expect(problems).toEqual([]);
    expect(asked).toBeGreaterThan(20);
    expect([...all.keys()]).toEqual(expect.arrayContaining(["Tenant", "Template", "TemplateVersion", "Credential", "Recipient", "WebhookDelivery", "EmailSettings", "Viewer"]));
  }, 300_000);

  it("answers every type reached through two paths at once, with different selections", async () => {
    const problems: string[] = [];
    let pairs = 0;
    for (const [, found] of all) {
      if (found.length < 2) continue;
      const [first, second] = found as [Route, Route];
      const selections = [selectionIn(first.type, "leaves"), selectionIn(first.type, "relations")];
      await ask(operation([first, second], selections), `${first.type.name} via ${first.description} and ${second.description}`, problems);
      pairs++;
    }
    expect(problems).toEqual([]);
    expect(pairs).toBeGreaterThan(10);
  }, 300_000);
});
