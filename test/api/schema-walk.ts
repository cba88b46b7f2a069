// Every field a caller can reach, generated from the schema's introspection: one selection per leaf
// (so a refused field never hides a sibling behind null), sent in batches of aliases. Used by tests
// that must look everywhere rather than where someone remembered to look.
import {
  buildClientSchema,
  getIntrospectionQuery,
  getNamedType,
  isAbstractType,
  isLeafType,
  isNonNullType,
  isObjectType,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
} from "graphql";
import { ARMOR } from "../../src/server.js";
import type { TestApp } from "../helpers/app.js";

/** Object nesting kept under the server's depth limit of 12 fields. */
const MAX_DEPTH = 9;

export async function introspect(app: TestApp, token: string): Promise<GraphQLSchema> {
  const res = await app.post({ query: getIntrospectionQuery() }, { authorization: `Bearer ${token}` });
  if (!res.json.data) throw new Error(`introspection failed: ${JSON.stringify(res.json)}`);
  return buildClientSchema(res.json.data);
}

/** Arguments for a field: first page of 3 for lists, the given values for required ones; null when one cannot be given. */
function argumentsOf(field: GraphQLField<unknown, unknown>, required: Record<string, string>): string | null {
  const parts: string[] = [];
  for (const arg of field.args) {
    // "field.arg" gives one field's argument (two fields may name different things `by`), else "arg".
    const key = `${field.name}.${arg.name}` in required ? `${field.name}.${arg.name}` : arg.name;
    if (key in required) parts.push(`${arg.name}: ${required[key]}`);
    else if (arg.name === "first") parts.push("first: 3");
    else if (isNonNullType(arg.type) && arg.defaultValue === undefined) return null;
  }
  return parts.length ? `(${parts.join(", ")})` : "";
}

/**
 * Selections reaching each leaf below `type`, e.g. `credentials(first: 3) { edges { node { id } } }`.
 * A type already on the path is not entered again (the same fields were walked where it first appeared).
 */
export function leafSelections(schema: GraphQLSchema, type: GraphQLNamedType, required: Record<string, string>, path: string[] = [], depth = 0): string[] {
  if (isAbstractType(type)) {
    return schema.getPossibleTypes(type).flatMap((t) => leafSelections(schema, t, required, path, depth).map((s) => `... on ${t.name} { ${s} }`));
  }
  if (!isObjectType(type)) return [];
  const out: string[] = [];
  for (const field of Object.values(type.getFields())) {
    const args = argumentsOf(field, required);
    if (args === null) continue;
    const named = getNamedType(field.type);
    if (isLeafType(named)) out.push(`${field.name}${args}`);
    else if (depth < MAX_DEPTH && !path.includes(named.name)) {
      for (const sub of leafSelections(schema, named, required, [...path, type.name], depth + 1)) out.push(`${field.name}${args} { ${sub} }`);
    }
  }
  return out;
}

/** Sends each selection under its own alias, a few per request, and returns every response body. */
export async function sendAll(app: TestApp, token: string, selections: string[], operation: "query" | "mutation" = "query"): Promise<unknown[]> {
  const bodies: unknown[] = [];
  const batch = operation === "mutation" ? 1 : ARMOR.maxAliases;
  for (let i = 0; i < selections.length; i += batch) {
    const chunk = selections.slice(i, i + batch);
    const query = `${operation} { ${chunk.map((s, j) => `a${j}: ${s}`).join(" ")} }`;
    const res = await app.post({ query }, { authorization: `Bearer ${token}` });
    bodies.push(res.json);
    // A refused field that nothing nullable stops empties the whole answer: ask again one by one, so
    // nothing is left unasked.
    if (chunk.length > 1 && res.json.data == null) {
      for (const s of chunk) bodies.push((await app.post({ query: `${operation} { a0: ${s} }` }, { authorization: `Bearer ${token}` })).json);
    }
    const masked = JSON.stringify(res.json).includes("INTERNAL_SERVER_ERROR");
    if (masked) throw new Error(`INTERNAL_SERVER_ERROR for ${query}: ${JSON.stringify(res.json)}`);
  }
  return bodies;
}

/** Every selection reachable from the query root and from node(id) for each id given. */
export function queryWalk(schema: GraphQLSchema, nodeIds: string[], required: Record<string, string>): string[] {
  const root = schema.getQueryType()!;
  const selections: string[] = [];
  for (const field of Object.values(root.getFields())) {
    if (field.name === "node" || field.name === "nodes") continue;
    const args = argumentsOf(field, required);
    if (args === null) throw new Error(`no arguments for Query.${field.name}: add them to the walk`);
    const named = getNamedType(field.type);
    if (isLeafType(named)) selections.push(`${field.name}${args}`);
    else for (const s of leafSelections(schema, named, required, ["Query"])) selections.push(`${field.name}${args} { ${s} }`);
  }
  // node(id) for each id, through its own type (a global id says which).
  for (const id of nodeIds) {
    const typename = Buffer.from(id, "base64").toString("utf8").split(":")[0]!;
    const type = schema.getType(typename);
    if (!type) throw new Error(`no type ${typename} for node ${id}`);
    for (const s of leafSelections(schema, type, required, ["Query"])) selections.push(`node(id: ${JSON.stringify(id)}) { ... on ${typename} { ${s} } }`);
  }
  return selections;
}
