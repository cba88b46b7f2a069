// The read path (issue 11): a list page with its relations is one statement, a signed document is read
// only when asked, relations into tables with column grants never take the join strategy (whose
// `t.*` the grants refuse), and statements are prepared once per connection within a bound.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrisma } from "../../src/db/database.js";
import { COLUMN_GRANTED_MODELS, EXACT_JSON_FIELDS, strategyChooser } from "../../src/db/relation-strategy.js";
import { boundQuery, PREPARED_PER_CONNECTION } from "../../src/db/request-connection.js";
import { withTenantTransaction } from "../../src/db/tenant-transaction.js";
import { getDatamodel } from "../../src/generated/pothos-types.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { TEST_ROLES } from "../helpers/env.js";
import { seedTenant, type SeededTenant } from "../helpers/schema-walk.js";
import { keysOf } from "../helpers/sealed.js";

let app: TestApp;
let seeded: SeededTenant;
let auth: Record<string, string>;

beforeAll(async () => {
  app = await startTestApp();
  seeded = await seedTenant(app, "Read Path");
  // Five more credentials of the seeded template, so a page has several rows with relations.
  const t = seeded.tenant;
  const [template] = await app.db.admin`select id from templates where tenant_id = ${t.tenantId}`;
  for (let i = 0; i < 5; i++) {
    const res = await app.post(
      {
        query: "mutation($input: IssueCredentialInput!) { issueCredential(input: $input) { __typename } }",
        variables: { input: { templateId: Buffer.from(`Template:${template!.id}`).toString("base64"), recipient: { email: `reader${i}@example.test`, name: `Reader ${i}` } } },
      },
      { authorization: `Bearer ${t.token}` },
    );
    expect(res.json.data.issueCredential.__typename).toBe("Credential");
  }
  auth = { authorization: `Bearer ${t.token}` };
});
afterAll(() => app?.close());

const PAGE = "query($first: Int) { tenant { credentials(first: $first) { totalCount edges { node { id status recipient { name email } templateVersion { name } } } } } }";

describe("a page of credentials with recipient and template", () => {
  it("is one statement whatever its size, and reads no signed document", async () => {
    const statements = async (first: number) => {
      app.queries.length = 0;
      const res = await app.post({ query: PAGE, variables: { first } }, auth);
      expect(res.json.errors).toBeUndefined();
      expect(res.json.data.tenant.credentials.edges).toHaveLength(first);
      expect(res.json.data.tenant.credentials.edges[0].node.recipient.name).toMatch(/\S/);
      return [...app.queries];
    };
    const small = await statements(2);
    const large = await statements(6);
    expect(large.length).toBe(small.length);
    const reading = large.filter((q) => q.includes('"credentials"'));
    expect(reading).toHaveLength(1);
    // recipient and template version come in the same statement (LATERAL joins), with no per-row parameters
    expect(reading[0]).toContain('"recipients"');
    expect(reading[0]).toContain('"template_versions"');
    expect(reading[0]).not.toMatch(/IN \(\$\d+,\$\d+/);
    for (const q of large) expect(q).not.toMatch(/"document_sealed"|"legacy_document"/);
  });

  it("returns the signed document byte for byte when asked through a relation (never re-serialised as jsonb)", async () => {
    const t = seeded.tenant;
    const [row] = await app.db.admin`select id, recipient_id, document_sealed from credentials where tenant_id = ${t.tenantId} order by issued_at limit 1`;
    // The stored text, opened as it was sealed (sealed-document.ts seals JSON text under credentials.document).
    row!.document = (await keysOf(app, t.tenantId)).open({ table: "credentials", column: "document", rowId: row!.id }, row!.document_sealed);
    const recipientId = Buffer.from(`Recipient:${row!.recipient_id}`).toString("base64");
    const res = await app.post({ query: "query($id: ID!) { node(id: $id) { ... on Recipient { credentials(first: 5) { edges { node { verifiableCredential } } } } } }", variables: { id: recipientId } }, auth);
    expect(res.json.errors).toBeUndefined();
    const documents = res.json.data.node.credentials.edges.map((e: { node: { verifiableCredential: unknown } }) => JSON.stringify(e.node.verifiableCredential));
    // JSON.stringify keeps key order: the stored text's order must survive (jsonb would sort keys by length).
    expect(documents).toContain(JSON.stringify(JSON.parse(row!.document as string)));
  });
});

describe("the relation strategy", () => {
  const chooser = strategyChooser(getDatamodel(), COLUMN_GRANTED_MODELS, EXACT_JSON_FIELDS);

  it("joins ordinary relations and keeps separate statements for column-granted tables and exact json", () => {
    expect(chooser.choose("Tenant", "findUnique", { select: { credentials: { select: { id: true, recipient: { select: { nameSealed: true } } } } } })).toBe("join");
    expect(chooser.choose("Tenant", "findUnique", { select: { apiKeys: { select: { id: true } } } })).toBe("query");
    expect(chooser.choose("User", "findUnique", { select: { sessions: true } })).toBe("query");
    expect(chooser.choose("Tenant", "findUnique", { select: { _count: { select: { invitations: true } } } })).toBe("query");
    // the legacy plain JSON of a signed document (sql/048) is exact json; the sealed bytes are not
    expect(chooser.choose("Recipient", "findMany", { select: { credentials: { select: { legacyDocument: true } } } })).toBe("query");
    expect(chooser.choose("Recipient", "findMany", { select: { credentials: { select: { documentSealed: true } } } })).toBe("join");
    expect(chooser.choose("Recipient", "findMany", { include: { credentials: true } })).toBe("query");
    // at the root a json column is selected as itself, not rebuilt
    expect(chooser.choose("Credential", "findMany", { select: { legacyDocument: true } })).toBe("join");
    expect(chooser.choose("Credential", "count", {})).toBeUndefined();
  });

  it("knows every table the member role may read only some columns of", async () => {
    const granted = await app.db.admin<{ table_name: string }[]>`
      select distinct table_name from information_schema.column_privileges
       where grantee = ${TEST_ROLES.member} and table_schema = 'public' and privilege_type = 'SELECT'
         and table_name not in (select table_name from information_schema.table_privileges
                                 where grantee = ${TEST_ROLES.member} and table_schema = 'public' and privilege_type = 'SELECT')`;
    expect(granted.length).toBeGreaterThan(0);
    const schema = readFileSync(new URL("../../prisma/schema.prisma", import.meta.url), "utf8");
    const modelOf = new Map<string, string>();
    for (const [, model, body] of schema.matchAll(/^model (\w+) \{([\s\S]*?)^\}/gm)) {
      const table = /@@map\("([^"]+)"\)/.exec(body!)?.[1] ?? model!;
      modelOf.set(table, model!);
    }
    for (const { table_name } of granted) expect(COLUMN_GRANTED_MODELS, table_name).toContain(modelOf.get(table_name));
    // and every json (not jsonb) column is known
    const json = await app.db.admin<{ table_name: string; column_name: string }[]>`
      select table_name, column_name from information_schema.columns where table_schema = 'public' and data_type = 'json'`;
    for (const { table_name, column_name } of json) {
      const field = column_name.replace(/_(\w)/g, (_m, c: string) => c.toUpperCase());
      expect(EXACT_JSON_FIELDS, `${table_name}.${column_name}`).toContain(`${modelOf.get(table_name)}.${field}`);
    }
  });
});

describe("the join strategy", () => {
  it("returns what separate statements return, for every relation of every model with rows", async () => {
    // As the cluster's superuser (no RLS, every column), each relation loaded both ways with every scalar
    // on both sides: dates, big integers, bytes, enums and json must come back the same.
    const own = createPrisma(app.db.adminUrl, 1);
    const { models } = getDatamodel().datamodel;
    const scalars = (model: string) =>
      Object.fromEntries(models[model]!.fields.filter((f) => f.kind !== "object").map((f) => [f.name, true]));
    const keyOf = (model: string) =>
      (models[model]!.primaryKey?.fields ?? models[model]!.fields.filter((f) => f.isId).map((f) => f.name)).map((f) => ({ [f]: "asc" as const }));
    let compared = 0;
    try {
      await withTenantTransaction(own, { dbRole: "postgres", tenantId: seeded.tenant.tenantId, userId: null }, async (db) => {
        for (const [model, shape] of Object.entries(models)) {
          const delegate = (db as unknown as Record<string, { findMany(args: object): Promise<unknown[]> }>)[model[0]!.toLowerCase() + model.slice(1)]!;
          for (const relation of shape.fields.filter((f) => f.kind === "object")) {
            if (COLUMN_GRANTED_MODELS.has(relation.type)) continue; // never joined (see above)
            const nested = relation.isList ? { select: scalars(relation.type), orderBy: keyOf(relation.type), take: 3 } : { select: scalars(relation.type) };
            const select = { ...scalars(model), [relation.name]: nested };
            const orderBy = keyOf(model);
            const joined = await delegate.findMany({ select, orderBy, take: 5, relationLoadStrategy: "join" });
            const separate = await delegate.findMany({ select, orderBy, take: 5, relationLoadStrategy: "query" });
            expect(joined, `${model}.${relation.name}`).toEqual(separate);
            if (joined.some((row) => (row as Record<string, unknown>)[relation.name])) compared++;
          }
        }
      });
    } finally {
      await own.prisma.$disconnect();
      await own.pool.end();
    }
    expect(compared).toBeGreaterThan(20);
  });
});

describe("prepared statements", () => {
  it("are prepared once per connection, and no more than the bound", async () => {
    const own = createPrisma(app.db.loginUrl, 1);
    try {
      const claims = { dbRole: TEST_ROLES.member, tenantId: seeded.tenant.tenantId, userId: null };
      const prepared = () => withTenantTransaction(own, claims, async () => (await boundQuery<{ n: number }>("select count(*)::int as n from pg_prepared_statements", [])).rows[0]!.n);
      const read = () => withTenantTransaction(own, claims, (db) => db.credential.findMany({ where: { tenantId: claims.tenantId }, select: { id: true }, take: 3 }));
      await read();
      const once = await prepared();
      await read();
      expect(await prepared()).toBe(once);
      expect(once).toBeGreaterThan(0);
      // Texts that differ by list length: more than the bound, then the count stops at the bound.
      await withTenantTransaction(own, claims, async (db) => {
        for (let n = 1; n <= PREPARED_PER_CONNECTION + 20; n++) {
          await db.credential.findMany({ where: { tenantId: claims.tenantId, id: { in: Array.from({ length: n }, () => crypto.randomUUID()) } }, select: { id: true } });
        }
      });
      expect(await prepared()).toBe(PREPARED_PER_CONNECTION);
    } finally {
      await own.prisma.$disconnect();
      await own.pool.end();
    }
  });
});

// Last in this file: it changes a column's type under the running server.
describe("a prepared statement gone stale", () => {
  it("does not fail requests when a column's type changes under the running server (PostgreSQL 0A000)", async () => {
    const query = "{ tenant { templates(first: 5) { edges { node { id current { name description } } } } } }";
    // Enough requests that several pooled connections hold the statement prepared.
    await Promise.all(Array.from({ length: 12 }, async () => expect((await app.post({ query }, auth)).json.errors).toBeUndefined()));
    await app.db.admin.unsafe("alter table template_versions alter column name type varchar(500)");
    const answers = await Promise.all(Array.from({ length: 12 }, () => app.post({ query }, auth)));
    for (const res of answers) {
      expect(res.json.errors).toBeUndefined();
      expect(res.json.data.tenant.templates.edges[0].node.current.name).toMatch(/Badge/);
    }
  });
});
