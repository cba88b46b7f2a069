// What the schema walks (test/api/hostile-walk.test.ts, test/api/overlapping-walk.test.ts) share: a
// tenant holding one object of every node type, and the ways from Query to every object type, found
// from the schema itself so that a new type or field is walked without anyone listing it.
import { randomUUID } from "node:crypto";
import {
  getNamedType,
  isInterfaceType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isUnionType,
  type GraphQLField,
  type GraphQLObjectType,
  type GraphQLOutputType,
  type GraphQLSchema,
} from "graphql";
import {
  ActivateTemplateDocument,
  AddSenderDomainDocument,
  CreateApiKeyDocument,
  CreateBulkIssuanceDocument,
  CreateTemplateDocument,
  CreateWebhookEndpointDocument,
  InviteMemberDocument,
  IssueCredentialDocument,
  SetEmailTemplateDocument,
  TestWebhookEndpointDocument,
} from "../../src/sdk/generated.js";
import type { TestApp } from "./app.js";
import { signUpTenant, uniqueEmail, type TestTenant } from "./factories.js";

export const globalId = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString("base64");

/** The table behind each node type. */
const NODE_TABLES: Record<string, string> = {
  ApiKey: "api_keys",
  AuditLogEntry: "audit_log",
  BulkJob: "bulk_jobs",
  Credential: "credentials",
  EmailMessage: "email_outbox",
  EmailTemplate: "email_templates",
  Invitation: "invitations",
  Membership: "memberships",
  Recipient: "recipients",
  SenderDomain: "sender_domains",
  Template: "templates",
  WebhookDelivery: "webhook_deliveries",
  WebhookEndpoint: "webhook_endpoints",
};

export interface SeededTenant {
  tenant: TestTenant;
  /** A global id of one of the tenant's objects, for every node type. */
  ids: Record<string, string>;
}

/** A tenant with at least one object of every node type, made through the API. */
export async function seedTenant(app: TestApp, name: string): Promise<SeededTenant> {
  const tenant = await signUpTenant(app, name);
  const owner = tenant.owner;
  const created = await owner.request(CreateTemplateDocument, {
    kind: "BADGE",
    content: { name: `${name} Badge`, description: "For a course.", credentialDescription: "For {{course}}.", criteriaNarrative: "Pass.", customFields: [{ name: "course", type: "TEXT", required: false }] },
  });
  if (created.createTemplate.__typename !== "Template") throw new Error(JSON.stringify(created));
  const templateId = created.createTemplate.id;
  await owner.request(ActivateTemplateDocument, { id: templateId });
  await owner.request(IssueCredentialDocument, { input: { templateId, recipient: { email: uniqueEmail("holder"), name: "Holder", externalId: randomUUID() }, fieldValues: { course: "Walking" } } });
  await owner.request(CreateBulkIssuanceDocument, { input: { templateId, rows: [{ email: "not-an-address" }] } });
  await owner.request(CreateApiKeyDocument, { input: { name: "seeded key", scopes: ["read"] } });
  await owner.request(InviteMemberDocument, { input: { email: uniqueEmail("invitee"), role: "viewer" } });
  await owner.request(SetEmailTemplateDocument, { input: { templateId, kind: "credential_issued", locale: "en", subject: "Hi {{recipient.name}}", html: "<p>Hi</p>", text: "Hi" } });
  await owner.request(AddSenderDomainDocument, { domain: `${tenant.tenantId.slice(0, 8)}.example.org` });
  const endpoint = await owner.request(CreateWebhookEndpointDocument, { input: { url: "https://partner.example/hook", eventTypes: ["credential.issued"] } });
  if (endpoint.createWebhookEndpoint.__typename !== "WebhookSecretPayload") throw new Error(JSON.stringify(endpoint));
  await owner.request(TestWebhookEndpointDocument, { id: endpoint.createWebhookEndpoint.endpoint.id });

  const ids: Record<string, string> = { Tenant: globalId("Tenant", tenant.tenantId), User: globalId("User", tenant.userId) };
  for (const [type, table] of Object.entries(NODE_TABLES)) {
    const [row] = await app.db.admin.unsafe(`select id::text as id from ${table} where tenant_id = $1 order by id limit 1`, [tenant.tenantId]);
    if (!row) throw new Error(`seedTenant made no ${type}`);
    ids[type] = globalId(type, row.id as string);
  }
  return { tenant, ids };
}

/** The node type an ID argument most likely names: from its own name, its field's, or what the field returns. */
export function expectedNodeType(schema: GraphQLSchema, field: GraphQLField<unknown, unknown>, argName: string): string | null {
  const nodeTypes = Object.values(schema.getTypeMap())
    .filter((t) => isObjectType(t) && t.getInterfaces().some((i) => i.name === "Node"))
    .map((t) => t.name)
    .sort((a, b) => b.length - a.length);
  const words = (argName === "id" || argName === "ids" ? field.name : argName.replace(/Ids?$/, "")).toLowerCase();
  const byName = nodeTypes.find((t) => words.includes(t.toLowerCase()));
  if (byName) return byName;
  const result = getNamedType(field.type);
  const members = isUnionType(result) ? result.getTypes() : isObjectType(result) ? [result] : [];
  const returned = members.flatMap((m) => [m, ...Object.values(m.getFields()).map((f) => getNamedType(f.type))]).find((t) => nodeTypes.includes(t.name));
  return returned?.name ?? null;
}

/** A way from Query to an object type: wraps a selection of that type in the fields leading to it. */
export interface Route {
  type: GraphQLObjectType;
  /** Variables the route itself needs (a node id), with their types. */
  variables: Record<string, { type: string; value: unknown }>;
  wrap(selection: string): string;
  description: string;
}

const unwrap = (type: GraphQLOutputType): GraphQLOutputType => (isNonNullType(type) || isListType(type) ? unwrap(type.ofType as GraphQLOutputType) : type);

/** Field arguments a route may pass without thinking: small pages, nothing else. */
function routeArgs(field: GraphQLField<unknown, unknown>): string | null {
  if (field.args.some((a) => isNonNullType(a.type) && a.defaultValue === undefined)) return null;
  return field.args.some((a) => a.name === "first") ? "(first: 2)" : "";
}

/**
 * Every way from Query to each object type, shortest first, up to `maxDepth` fields deep: through
 * fields that need no arguments, and through node(id:) with the seeded tenant's object of each node type.
 */
export function routes(schema: GraphQLSchema, ids: Record<string, string>, maxDepth = 5): Map<string, Route[]> {
  const found = new Map<string, Route[]>();
  const queue: { route: Route; depth: number; seen: string[] }[] = [];
  const add = (route: Route, depth: number, seen: string[]) => {
    const list = found.get(route.type.name) ?? [];
    found.set(route.type.name, list);
    if (list.length >= 3) return;
    list.push(route);
    queue.push({ route, depth, seen: [...seen, route.type.name] });
  };
  const query = schema.getQueryType()!;
  add({ type: query, variables: {}, wrap: (s) => s, description: "Query" }, 0, []);
  for (const [type, id] of Object.entries(ids)) {
    const object = schema.getType(type) as GraphQLObjectType;
    const variable = `node${type}`;
    add({ type: object, variables: { [variable]: { type: "ID!", value: id } }, wrap: (s) => `node(id: $${variable}) { ... on ${type} { ${s} } }`, description: `node(${type})` }, 1, ["Query"]);
  }
  while (queue.length) {
    const { route, depth, seen } = queue.shift()!;
    if (depth >= maxDepth) continue;
    for (const field of Object.values(route.type.getFields())) {
      const target = unwrap(field.type);
      const args = routeArgs(field);
      if (args === null || !isObjectType(target) || seen.includes(target.name) || field.name === "node" || field.name === "nodes") continue;
      add(
        { type: target, variables: route.variables, wrap: (s) => route.wrap(`${field.name}${args} { ${s} }`), description: `${route.description}.${field.name}` },
        depth + 1,
        seen,
      );
    }
  }
  return found;
}

/**
 * What to select of an object type: "leaves" is its type name and every field without arguments that
 * returns a scalar or enum; "relations" is its type name, one leaf, and every field that leads to other
 * objects (connections with a page of two and their nodes), so the related rows are loaded too.
 */
export function selectionIn(type: GraphQLObjectType, kind: "leaves" | "relations"): string {
  const parts = ["__typename"];
  let leaf = false;
  for (const field of Object.values(type.getFields())) {
    if (field.args.some((a) => isNonNullType(a.type) && a.defaultValue === undefined)) continue;
    const inner = getNamedType(field.type);
    if (isLeafType(inner)) {
      if (kind === "leaves" || !leaf) parts.push(field.name);
      leaf = true;
    } else if (kind === "relations") {
      const page = field.args.some((a) => a.name === "first") ? "(first: 2)" : "";
      const edges = isObjectType(inner) && inner.getFields().edges ? " edges { node { __typename } }" : "";
      parts.push(`${field.name}${page} { __typename${edges} }`);
    }
  }
  return parts.join(" ");
}

/** A selection of a field's result: nothing for a scalar, each Error's message for a result union. */
export function leavesOf(type: GraphQLOutputType, kind: "leaves" | "relations" = "leaves"): string {
  const named = getNamedType(type);
  if (isLeafType(named)) return "";
  if (isUnionType(named)) return named.getTypes().some((t) => t.getInterfaces().some((i) => i.name === "Error")) ? "{ __typename ... on Error { message } }" : "{ __typename }";
  if (isInterfaceType(named)) return named.name === "Error" ? "{ __typename message }" : "{ __typename id }";
  return `{ ${selectionIn(named as GraphQLObjectType, kind)} }`;
}
