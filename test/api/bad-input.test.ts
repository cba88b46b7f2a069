// Hostile or broken requests get a clear error with a code, and the server keeps serving.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { buildSchema, getIntrospectionQuery, type GraphQLInterfaceType } from "graphql";
import { TenantDocument } from "../../src/sdk/generated.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, type TestTenant } from "../helpers/factories.js";

let app: TestApp;
let t: TestTenant;
let auth: Record<string, string>;
beforeAll(async () => {
  app = await startTestApp();
  t = await signUpTenant(app);
  auth = { authorization: `Bearer ${t.token}` };
});
afterAll(async () => app.close());

async function stillServing() {
  const { tenant } = await t.owner.request(TenantDocument);
  expect(tenant.uuid).toBe(t.tenantId);
}

function codes(json: any): string[] {
  return (json.errors ?? []).map((e: any) => e.extensions?.code);
}

describe("bad requests", () => {
  it("malformed GraphQL: a parse error with GRAPHQL_PARSE_FAILED", async () => {
    const res = await app.post({ query: "{ tenant { name " }, auth);
    expect(res.status).toBe(400);
    expect(codes(res.json)).toContain("GRAPHQL_PARSE_FAILED");
    await stillServing();
  });

  it("malformed JSON body: a 400 with a message", async () => {
    const res = await app.post("{not json", auth);
    expect(res.status).toBe(400);
    expect(res.json.errors[0].message).toBeTruthy();
    await stillServing();
  });

  it("an unknown field: GRAPHQL_VALIDATION_FAILED", async () => {
    const res = await app.post({ query: "{ tenant { secretStuff } }" }, auth);
    expect(codes(res.json)).toContain("GRAPHQL_VALIDATION_FAILED");
    await stillServing();
  });

  it("a depth bomb: QUERY_TOO_COMPLEX naming the depth", async () => {
    let selection = "name";
    for (let i = 0; i < 24; i++) selection = `ofType { ${selection} }`;
    const res = await app.post({ query: `{ __schema { types { fields { type { ${selection} } } } } }` }, auth);
    expect(codes(res.json)).toContain("QUERY_TOO_COMPLEX");
    expect(res.json.errors[0].message).toMatch(/depth/i);
    await stillServing();
  });

  it("the standard introspection query (GraphiQL's, codegen's) still passes the limits", async () => {
    const res = await app.post({ query: getIntrospectionQuery() }, auth);
    expect(res.json.errors).toBeUndefined();
    expect(res.json.data.__schema.types.length).toBeGreaterThan(20);
  });

  it("an alias bomb: refused", async () => {
    const aliases = Array.from({ length: 50 }, (_, i) => `a${i}: tenant { name }`).join(" ");
    const res = await app.post({ query: `{ ${aliases} }` }, auth);
    expect(res.json.errors?.[0]?.message).toMatch(/alias/i);
    expect(codes(res.json)).toEqual(["QUERY_TOO_COMPLEX"]);
    await stillServing();
  });

  it("a cost bomb: QUERY_TOO_COMPLEX naming the cost", async () => {
    const page = "members(first: 100) { edges { node { id user { id } } } }";
    const aliases = Array.from({ length: 12 }, (_, i) => `m${i}: ${page}`).join(" ");
    const res = await app.post({ query: `{ tenant { ${aliases} } }` }, auth);
    expect(codes(res.json)).toContain("QUERY_TOO_COMPLEX");
    expect(res.json.errors[0].message).toMatch(/too expensive/);
    await stillServing();
  });

  it("a token bomb: refused", async () => {
    const fields = Array.from({ length: 6000 }, () => "__typename").join(" ");
    const res = await app.post({ query: `{ ${fields} }` }, auth);
    expect(res.json.errors?.[0]?.message).toMatch(/token/i);
    expect(codes(res.json)).toEqual(["QUERY_TOO_COMPLEX"]);
    await stillServing();
  });

  it("a page larger than 100: BAD_USER_INPUT, not a silent clamp", async () => {
    const res = await app.post({ query: "query($n: Int) { tenant { members(first: $n) { totalCount } } }", variables: { n: 101 } }, auth);
    expect(codes(res.json)).toEqual(["BAD_USER_INPUT"]);
    expect(res.json.errors[0].message).toMatch(/between 0 and 100/);
    const negative = await app.post({ query: "{ tenant { members(first: -1) { totalCount } } }" }, auth);
    expect(codes(negative.json)).toEqual(["BAD_USER_INPUT"]);
    await stillServing();
  });

  it("a page size from a variable's default is checked too, and every request's own variables (the analysis is cached per document)", async () => {
    const query = "query($n: Int = 500) { tenant { members(first: $n) { totalCount } } }";
    expect(codes((await app.post({ query }, auth)).json)).toEqual(["BAD_USER_INPUT"]);
    for (const [n, refused] of [[5, false], [101, true], [100, false], [-1, true], [null, false]] as const) {
      const res = await app.post({ query, variables: { n } }, auth);
      expect(codes(res.json), String(n)).toEqual(refused ? ["BAD_USER_INPUT"] : []);
    }
  });

  it("only the operation that runs is held to the page limit", async () => {
    const query = "query Small { tenant { members(first: 5) { totalCount } } } query Large { tenant { members(first: 500) { totalCount } } }";
    expect(codes((await app.post({ query, operationName: "Small" }, auth)).json)).toEqual([]);
    expect(codes((await app.post({ query, operationName: "Large" }, auth)).json)).toEqual(["BAD_USER_INPUT"]);
    const viaFragment = "query Small { tenant { ...Big } } fragment Big on Tenant { members(first: 500) { totalCount } }";
    expect(codes((await app.post({ query: viaFragment }, auth)).json)).toEqual(["BAD_USER_INPUT"]);
  });

  it("an oversized body: 413 before any parsing (a small limit anonymous, a larger one signed in)", async () => {
    const anonymous = await app.post({ query: "{ __typename }", variables: { padding: "x".repeat(app.config.maxBodyBytes + 10) } });
    expect(anonymous.status).toBe(413);
    expect(codes(anonymous.json)).toEqual(["PAYLOAD_TOO_LARGE"]);
    const signedIn = await app.post({ query: "{ __typename }", variables: { padding: "x".repeat(app.config.maxBodyBytes + 10) } }, auth);
    expect(signedIn.status).toBe(200);
    const huge = await app.post({ query: "{ __typename }", variables: { padding: "x".repeat(app.config.maxAuthenticatedBodyBytes + 10) } }, auth);
    expect(huge.status).toBe(413);
    await stillServing();
  });

  it("an invalid email and an unknown enum value: BAD_USER_INPUT with the reason", async () => {
    const email = await app.post(
      { query: "mutation($i: InviteMemberInput!) { inviteMember(input: $i) { __typename } }", variables: { i: { email: "nope", role: "viewer" } } },
      auth,
    );
    expect(codes(email.json)).toEqual(["BAD_USER_INPUT"]);
    expect(email.json.errors[0].message).toMatch(/email/i);
    const role = await app.post(
      { query: "mutation($i: InviteMemberInput!) { inviteMember(input: $i) { __typename } }", variables: { i: { email: "a@b.test", role: "emperor" } } },
      auth,
    );
    expect(codes(role.json)).toEqual(["BAD_USER_INPUT"]);
    expect(role.json.errors[0].message).toMatch(/emperor/);
    const [n] = await app.db.admin`select count(*)::int as n from invitations`;
    expect(n!.n).toBe(0);
    await stillServing();
  });

  it("a malformed global id: null from node(), NotFound from mutations", async () => {
    const node = await app.post({ query: '{ node(id: "bm9wZQ==") { id } }' }, auth);
    expect(node.json.data?.node ?? null).toBeNull();
    const revoke = await app.post({ query: 'mutation { revokeApiKey(id: "QXBpS2V5Om5vdC1hLXV1aWQ=") { __typename } }' }, auth);
    expect(revoke.json.data?.revokeApiKey?.__typename ?? codes(revoke.json)[0]).toMatch(/NotFoundError|BAD_USER_INPUT/);
    await stillServing();
  });

  it("a global id of every node type with a malformed uuid inside: null from node(), never INTERNAL_SERVER_ERROR", async () => {
    // Every type implementing Node, read from the schema of record so a new one is covered when added.
    const schema = buildSchema(readFileSync(new URL("../../schema/schema.graphql", import.meta.url), "utf8"));
    const types = schema.getImplementations(schema.getType("Node") as GraphQLInterfaceType).objects.map((o) => o.name);
    expect(types).toEqual(expect.arrayContaining(["Tenant", "User", "Recipient", "Credential"]));
    for (const type of types) {
      for (const inside of ["abc", "180c201f", "", "x".repeat(100), "00000000-0000-0000-0000-00000000000g"]) {
        const id = Buffer.from(`${type}:${inside}`).toString("base64");
        const res = await app.post({ query: "query($id: ID!) { node(id: $id) { id } }", variables: { id } }, auth);
        // null as for an unknown id; an id with nothing after the type is not a global id at all (BAD_USER_INPUT).
        const codes = (res.json.errors ?? []).map((e: { extensions?: { code?: string } }) => e.extensions?.code);
        expect({ type, inside, codes, node: res.json.data?.node ?? null }).toEqual({ type, inside, codes: inside ? [] : ["BAD_USER_INPUT"], node: null });
      }
    }
    await stillServing();
  });

  it("returns a request id, and echoes a well-formed one given", async () => {
    const res = await app.post({ query: "{ __typename }" }, { ...auth, "x-request-id": "req-123" });
    expect(res.headers.get("x-request-id")).toBe("req-123");
  });
});
