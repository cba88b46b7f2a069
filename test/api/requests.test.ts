// How requests reach the API: nesting that would overflow the parser is refused before parsing, bodies
// without a Content-Length are read within the same limits, answers are compressed when the client
// accepts it, and the bulk-progress subscription answers with the same codes as every other field.
import http from "node:http";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { getIntrospectionQuery } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActivateTemplateDocument, CreateBulkIssuanceDocument, CreateTemplateDocument } from "../../src/sdk/generated.js";
import type { LaurelClient } from "../../src/sdk/index.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, type TestTenant } from "../helpers/factories.js";

let app: TestApp;
let a: TestTenant;
let b: TestTenant;

beforeAll(async () => {
  app = await startTestApp({ maxBodyBytes: 4_000 }, { worker: {} });
  [a, b] = await Promise.all([signUpTenant(app, "Request College"), signUpTenant(app, "Other College")]);
});

afterAll(async () => {
  await app?.close();
});

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** node:http, so the test sees the bytes as sent (fetch would undo the compression). */
function raw(method: string, path: string, headers: Record<string, string>, chunks: string[] = []): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${app.server.url}${path}`, { method, headers }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (d: Buffer) => parts.push(d));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts) }));
    });
    req.on("error", reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

function errorsOf(body: Buffer): { message: string; extensions?: { code?: string } }[] {
  const text = body.toString("utf8");
  const payloads = text.trimStart().startsWith("{") ? [text] : [...text.matchAll(/^data: (.+)$/gm)].map((m) => m[1]!);
  return payloads.flatMap((p) => (JSON.parse(p) as { errors?: { message: string; extensions?: { code?: string } }[] }).errors ?? []);
}

describe("deeply nested requests", () => {
  const json = { "content-type": "application/json", accept: "application/graphql-response+json" };
  // Signed in: the anonymous body limit of this app is smaller than these documents.
  const signedIn = () => ({ authorization: `Bearer ${a.token}` });

  it("refuses 60 KB of nested selections as QUERY_TOO_COMPLEX instead of overflowing the stack", async () => {
    const depth = 30_000;
    const query = `{${"a{".repeat(depth)}b${"}".repeat(depth)}}`;
    expect(query.length).toBeGreaterThan(60_000);
    const res = await app.post({ query }, signedIn());
    expect(res.status).toBe(400);
    expect(res.json.errors.map((e: { extensions: { code: string } }) => e.extensions.code)).toEqual(["QUERY_TOO_COMPLEX"]);
  });

  it("refuses 20,000 nested list values, in the document or in the variables", async () => {
    const list = `${"[".repeat(20_000)}1${"]".repeat(20_000)}`;
    const inDocument = await app.post({ query: `{ node(id: ${list}) { id } }` }, signedIn());
    expect(inDocument.json.errors[0].extensions.code).toBe("QUERY_TOO_COMPLEX");
    const inVariables = await raw("POST", "/graphql", { ...json, ...signedIn() }, [`{"query":"query ($v: JSON) { __typename }","variables":{"v":${list}}}`]);
    expect(errorsOf(inVariables.body)[0]?.extensions?.code).toBe("QUERY_TOO_COMPLEX");
  });

  it("counts no brackets inside strings or comments, and takes the standard introspection query", async () => {
    const quoted = await app.post({ query: `# ${"{".repeat(500)}\n{ node(id: "${"{[(".repeat(500)}") { id } }` });
    expect(quoted.json.errors?.[0]?.extensions?.code).not.toBe("QUERY_TOO_COMPLEX");
    const introspection = await app.post({ query: getIntrospectionQuery() });
    expect(introspection.json.data.__schema.queryType.name).toBe("Query");
  });
});

describe("a request body without Content-Length (chunked)", () => {
  it("is read and answered", async () => {
    const res = await raw("POST", "/graphql", { "content-type": "application/json" }, ['{"query":', '"{ __typename }"', "}"]);
    expect(res.headers["transfer-encoding"] ?? res.headers["content-length"]).toBeDefined();
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString())).toEqual({ data: { __typename: "Query" } });
  });

  it("is refused with 413 once its bytes pass the limit, like one that declares its size", async () => {
    const padding = " ".repeat(1_000);
    const chunked = await raw("POST", "/graphql", { "content-type": "application/json" }, ['{"query":"{ __typename }"', ...Array(5).fill(padding), "}"]);
    expect(chunked.status).toBe(413);
    expect(errorsOf(chunked.body)[0]?.extensions?.code).toBe("PAYLOAD_TOO_LARGE");
    const declared = await app.post(`{"query":"{ __typename }"${padding.repeat(5)}}`);
    expect(declared.status).toBe(413);
  });
});

describe("responses", () => {
  it("are compressed with brotli or gzip when the client accepts it (GraphiQL's page is megabytes)", async () => {
    const page = await raw("GET", "/graphql", { accept: "text/html", "accept-encoding": "br, gzip" });
    expect(page.headers["content-encoding"]).toBe("br");
    const html = brotliDecompressSync(page.body).toString();
    expect(html).toContain("<title>Laurel</title>");
    expect(page.body.length).toBeLessThan(html.length / 3);

    const body = JSON.stringify({ query: getIntrospectionQuery() });
    const gzipped = await raw("POST", "/graphql", { "content-type": "application/json", "accept-encoding": "gzip", "content-length": String(body.length) }, [body]);
    expect(gzipped.headers["content-encoding"]).toBe("gzip");
    expect(JSON.parse(gunzipSync(gzipped.body).toString()).data.__schema.queryType.name).toBe("Query");
  });

  it("are sent as they are to a client that accepts no encoding", async () => {
    const page = await raw("GET", "/graphql", { accept: "text/html" });
    expect(page.headers["content-encoding"]).toBeUndefined();
    expect(page.body.toString()).toContain("<title>Laurel</title>");
  });
});

async function bulkJob(owner: LaurelClient): Promise<string> {
  const template = await owner.request(CreateTemplateDocument, { kind: "BADGE", content: { name: "Streamed", description: "A badge.", criteriaNarrative: "Do it." } });
  if (template.createTemplate.__typename !== "Template") throw new Error("template");
  await owner.request(ActivateTemplateDocument, { id: template.createTemplate.id });
  const job = await owner.request(CreateBulkIssuanceDocument, { input: { templateId: template.createTemplate.id, rows: [{ email: "streamed@example.test" }] } });
  if (job.createBulkIssuance.__typename !== "BulkJob") throw new Error("bulk job");
  return job.createBulkIssuance.id;
}

describe("the bulkJobProgress subscription", () => {
  const subscribe = (id: string, token?: string) =>
    raw("GET", `/graphql?query=${encodeURIComponent(`subscription { bulkJobProgress(id: "${id}") { status } }`)}`, {
      accept: "text/event-stream",
      "accept-encoding": "gzip",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    });

  it("streams its own tenant's job, uncompressed", async () => {
    const res = await subscribe(await bulkJob(a.owner), a.token);
    expect(res.headers["content-type"]).toContain("text/event-stream");
    expect(res.headers["content-encoding"] ?? "none").toBe("none"); // yoga marks event streams "none" for proxies too
    expect(res.body.toString()).toContain('"status":"COMPLETED"');
  });

  it("answers UNAUTHENTICATED to an anonymous caller", async () => {
    const res = await subscribe(await bulkJob(a.owner));
    expect(errorsOf(res.body).map((e) => e.extensions?.code)).toEqual(["UNAUTHENTICATED"]);
  });

  it("answers NOT_FOUND alike for an unknown job and another tenant's", async () => {
    const theirs = await subscribe(await bulkJob(b.owner), a.token);
    const unknown = await subscribe(Buffer.from("BulkJob:00000000-0000-4000-8000-000000000000").toString("base64"), a.token);
    const notAJob = await subscribe(Buffer.from(`Template:00000000-0000-4000-8000-000000000000`).toString("base64"), a.token);
    for (const res of [theirs, unknown, notAJob]) expect(errorsOf(res.body).map((e) => e.extensions?.code)).toEqual(["NOT_FOUND"]);
    expect(errorsOf(theirs.body)[0]!.message).toBe(errorsOf(unknown.body)[0]!.message);
  });
});
