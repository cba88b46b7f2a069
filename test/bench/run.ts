// `npm run bench`: Laurel's request path against the same SQL run directly. Not part of `npm test`:
// it prints figures and ratios, it asserts nothing.
//
//   (a) one row by id          node(id) of an API key       vs  select ... from api_keys where (tenant_id, id)
//   (b) 50 rows + a relation   tenant.members(first: 50)     vs  memberships join users, limit 50
//
// Both sides run inside a tenant transaction (set_config of role and claims, then the query), at the
// same concurrency. The server runs in a child process over HTTP with an API key.
import { fork } from "node:child_process";
import http from "node:http";
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { migrate } from "../../src/db/migrate.js";
import { loadConfig } from "../../src/config.js";
import { createPrisma } from "../../src/db/database.js";
import { withTenantSql, withTenantTransaction } from "../../src/db/tenant-transaction.js";
import { createApiKey } from "../../src/modules/api-keys/service.js";
import { ROLE_PERMISSIONS } from "../../src/modules/auth/permissions.js";
import { describeLoad, runLoad } from "./load.js";
import { benchBulk } from "./bulk.js";
import { benchDelivery } from "./delivery.js";
import { benchIngest } from "./ingest.js";
import { TEST_ENV } from "../helpers/env.js";
import { createTemplate, setTemplateStatus } from "../../src/modules/templates/service.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const server = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const dbName = `laurel_bench_${randomBytes(4).toString("hex")}`;
const adminUrl = Object.assign(new URL(server), { pathname: `/${dbName}` }).toString();

const root = postgres(server, { max: 1, onnotice: () => {} });
await root.unsafe(`create database "${dbName}"`);
// The test roles, never a deployment's laurel_* roles on the same cluster (children inherit them too).
Object.assign(process.env, TEST_ENV);
const config = loadConfig({ ...process.env, DATABASE_URL: adminUrl });
const roles = config.roles;
try {
  await migrate({ adminUrl, roles, loginPassword: config.loginPassword });
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  const [seed] = await admin`select user_id, tenant_id from sign_up('bench@example.test', 'Bench Owner', 'x', 'Bench University', 'bench-university')`;
  const tenantId = seed!.tenant_id as string;
  const userId = seed!.user_id as string;
  await admin.unsafe(`
    with u as (insert into users (email, name) select 'member' || g || '@example.test', 'Member ' || g from generate_series(1, 60) g returning id)
    insert into memberships (tenant_id, user_id, role) select '${tenantId}', id, 'viewer' from u`);
  // A second tenant of the same size, so RLS has rows to filter out.
  const [other] = await admin`select tenant_id from sign_up('other@example.test', 'Other', 'x', 'Other College', 'other-college')`;
  await admin.unsafe(`
    with u as (insert into users (email, name) select 'o' || g || '@example.test', 'O ' || g from generate_series(1, 60) g returning id)
    insert into memberships (tenant_id, user_id, role) select '${other!.tenant_id}', id, 'viewer' from u`);
  await admin.end();

  const appUrl = Object.assign(new URL(adminUrl), { username: roles.login, password: config.loginPassword }).toString();
  const seeding = createPrisma(appUrl, 2);
  const caller = { tenantId, actor: { kind: "user" as const, id: userId }, permissions: ROLE_PERMISSIONS.owner, requestId: "bench" };
  const { apiKey, secret } = await withTenantTransaction(seeding, { dbRole: roles.member, tenantId, userId }, (db) =>
    createApiKey(db, caller, { name: "bench", scopes: ["read", "admin", "issue"] }),
  );
  await seeding.prisma.$disconnect();
  await seeding.pool.end();
  const nodeId = Buffer.from(`ApiKey:${apiKey.id}`).toString("base64");

  // --- the server, over HTTP
  const child = fork(new URL("./server-process.ts", import.meta.url).pathname, [], {
    execArgv: ["--import", "tsx"],
    env: { ...process.env, DATABASE_URL: adminUrl, NODE_ENV: "production", DATABASE_POOL_SIZE: "10", LAUREL_RUN_WORKER: "false", LAUREL_KEKS: `1:${randomBytes(32).toString("base64")}`, LAUREL_TRUST_PROXY: "127.0.0.1" },
  });
  const url = await new Promise<string>((resolve) => child.on("message", (m: { url?: string }) => m.url && resolve(m.url)));
  // node:http with keep-alive: the cheapest client here, so the load generator steals the least CPU
  // from the server it shares two cores with.
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const target = new URL(`${url}/graphql`);
  const post = (query: string, variables: object) =>
    new Promise<boolean>((resolve, reject) => {
      const body = JSON.stringify({ query, variables });
      const req = http.request(
        {
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: "POST",
          agent,
          // As from a proxy that terminated TLS: production refuses a bearer token over plain HTTP (lib/transit.ts).
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), authorization: `Bearer ${secret}`, "x-forwarded-proto": "https" },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve(res.statusCode === 200 && !Buffer.concat(chunks).includes('"errors"')));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  // An active template for the issueCredential latency figures.
  const seedAgain = createPrisma(appUrl, 1);
  const template = await withTenantTransaction(seedAgain, { dbRole: roles.member, tenantId, userId }, async (db) => {
    const t = await createTemplate(db, caller, "BADGE", { name: "Bench Badge", description: "For benchmarks.", criteriaNarrative: "Run the bench." });
    await setTemplateStatus(db, caller, t.id, "ACTIVE");
    return t;
  });
  await seedAgain.prisma.$disconnect();
  await seedAgain.pool.end();
  const templateNodeId = Buffer.from(`Template:${template.id}`).toString("base64");
  const byIdQuery = "query($id: ID!) { node(id: $id) { ... on ApiKey { id name prefix scopes createdAt lastUsedAt } } }";
  const listQuery = "{ tenant { members(first: 50) { edges { node { id role createdAt user { id name email } } } } } }";
  const byIdCheck = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${secret}`, "x-forwarded-proto": "https" },
    body: JSON.stringify({ query: listQuery }),
  }).then((r) => r.json() as Promise<{ data: { tenant: { members: { edges: unknown[] } } } }>);
  if (byIdCheck.data.tenant.members.edges.length !== 50) throw new Error("bench seed: expected 50 members on the page");

  await runLoad(() => post(byIdQuery, { id: nodeId }), { concurrency: CONCURRENCY, seconds: 2 }); // warm-up
  const serverById = await runLoad(() => post(byIdQuery, { id: nodeId }), { concurrency: CONCURRENCY, seconds: SECONDS });
  await runLoad(() => post(listQuery, {}), { concurrency: CONCURRENCY, seconds: 2 });
  const serverList = await runLoad(() => post(listQuery, {}), { concurrency: CONCURRENCY, seconds: SECONDS });
  const issueMutation = "mutation($input: IssueCredentialInput!) { issueCredential(input: $input) { __typename ... on Credential { id } } }";
  let n = 0;
  const issueOne = () => post(issueMutation, { input: { templateId: templateNodeId, recipient: { email: `bench${n++}@example.test` } } });
  await runLoad(issueOne, { concurrency: 1, seconds: 1 });
  const issueSequential = await runLoad(issueOne, { concurrency: 1, seconds: SECONDS / 2 });
  const issueConcurrent = await runLoad(issueOne, { concurrency: 8, seconds: SECONDS / 2 });
  const peak = await new Promise<number>((resolve) => {
    child.on("message", (m: { peakRssMb?: number }) => m.peakRssMb && resolve(m.peakRssMb));
    child.kill("SIGTERM");
  });

  // --- the same SQL, postgres.js, inside the tenant transaction
  const sql = postgres(appUrl, { max: 10, onnotice: () => {} });
  const claims = { dbRole: roles.member, tenantId, userId: null };
  const rawById = () =>
    withTenantSql(sql, claims, (tx) => tx`
      select tenant_id, id, name, prefix, scopes::text[], created_at, last_used_at
        from api_keys where tenant_id = ${tenantId} and id = ${apiKey.id}`).then((r) => r.length === 1);
  const rawList = () =>
    withTenantSql(sql, claims, (tx) => tx`
      select m.tenant_id, m.id, m.role, m.created_at, u.id as user_id, u.name, u.email
        from memberships m join users u on u.id = m.user_id
       where m.tenant_id = ${tenantId} order by m.created_at, m.id limit 51`).then((r) => r.length === 51);
  await runLoad(rawById, { concurrency: CONCURRENCY, seconds: 2 });
  const sqlById = await runLoad(rawById, { concurrency: CONCURRENCY, seconds: SECONDS });
  const sqlList = await runLoad(rawList, { concurrency: CONCURRENCY, seconds: SECONDS });
  await sql.end();

  console.log(`\nLaurel request path vs the same SQL (${CONCURRENCY} concurrent, ${SECONDS}s each, PostgreSQL on this machine)\n`);
  console.log(describeLoad("(a) server: node(id) API key, HTTP + API key", serverById));
  console.log(describeLoad("(a) raw:    postgres.js tenant transaction", sqlById));
  console.log(`    ratio server/raw: ${(serverById.rps / sqlById.rps).toFixed(2)} (target >= 0.30)\n`);
  console.log(describeLoad("(b) server: members(first: 50) + user", serverList));
  console.log(describeLoad("(b) raw:    postgres.js tenant transaction", sqlList));
  console.log(`    ratio server/raw: ${(serverList.rps / sqlList.rps).toFixed(2)}\n`);
  console.log(describeLoad("issueCredential, one at a time", issueSequential));
  console.log(describeLoad("issueCredential, 8 concurrent", issueConcurrent));
  console.log(`server peak RSS: ${peak.toFixed(0)} MB\n`);
  if (process.env.BENCH_BULK !== "0") {
    const sizes = (process.env.BENCH_BULK_SIZES ?? "10000,100000").split(",").map(Number);
    console.log("Bulk issuance through the runner (signed, committed, email queued, audited):");
    await benchBulk(sizes, server);
  }
  if (process.env.BENCH_DELIVERY !== "0") {
    console.log("\nEmail delivery through the worker (its own process) to a fake Resend:");
    await benchDelivery((process.env.BENCH_DELIVERY_SIZES ?? "10000").split(",").map(Number), server);
  }
  if (process.env.BENCH_INGEST !== "0") await benchIngest(server, { seconds: SECONDS });
} finally {
  await root.unsafe(`drop database if exists "${dbName}" with (force)`);
  await root.end();
}
