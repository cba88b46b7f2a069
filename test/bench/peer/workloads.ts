// What `npm run bench:peer` asks: the same rows through each server's own schema. Laurel gets its real
// API key; the peer gets the tenant's id in a header (it authenticates nobody). Before any figure is
// taken, both answers are reduced to plain rows and compared; under load every answer must then be
// byte for byte the one that was checked (a wrong answer counts as an error), except issuance, whose
// answers differ each time and are checked for a Credential.
import http from "node:http";
import { globalId, type BenchTenant } from "./seed.js";

export interface Side {
  url: string;
  headers: Record<string, string>;
  /** The JSON body of the i-th request. */
  body(i: number): string;
  /** Whether an answer (status 200) is right; set by verification. */
  check(i: number, body: Buffer): boolean;
}

export interface Workload {
  key: string;
  title: string;
  laurel: Side;
  peer?: Side;
  /** Why the two servers' answers differ, when they do: printed loudly beside the figures. */
  wrong?: string;
}

type Row = Record<string, unknown>;
const LAUREL_NODE = "Credential";

// ---- the queries, each in its server's own schema
const LAUREL_BY_ID = "query CredentialById($id: ID!) { node(id: $id) { ... on Credential { id status issuedAt validFrom } } }";
const PEER_BY_ID =
  "query CredentialById($tenantId: UUID!, $id: UUID!) { credentialByTenantIdAndRowId(tenantId: $tenantId, rowId: $id) { id status issuedAt validFrom } }";
const LAUREL_PAGE =
  "query CredentialPage { tenant { credentials(first: 50) { edges { node { id status issuedAt recipient { name email } templateVersion { name } } } } } }";
// The peer's lists name the tenant in a condition, as Laurel's SQL does (tenant_id = $1 beside RLS), so
// both send PostgreSQL the same predicates. The plans may still differ: PostGraphile counts with
// `count(*) ... where tenant_id = $1 and status = $2`, Laurel (Prisma) with a grouped subquery joined to
// tenants, and on a freshly analysed database PostgreSQL scans the whole table for the first (~55 ms)
// and the tenant's index for the second (~23 ms). That shows in the PG CPU column, not the server's.
const PEER_PAGE =
  "query CredentialPage($tenantId: UUID!) { allCredentials(first: 50, condition: { tenantId: $tenantId }, orderBy: [ISSUED_AT_DESC, ROW_ID_DESC]) { edges { node { id status validFrom " +
  "recipientByTenantIdAndRecipientId { name email } templateVersionByTenantIdAndTemplateIdAndTemplateVersion { name } } } } }";
const LAUREL_ACTIVE = "query ActiveCredentials { tenant { credentials(first: 20, status: ACTIVE) { totalCount edges { node { id status issuedAt } } } } }";
const PEER_ACTIVE =
  "query ActiveCredentials($tenantId: UUID!) { allCredentials(first: 20, condition: { tenantId: $tenantId, status: ACTIVE }, orderBy: [ISSUED_AT_DESC, ROW_ID_DESC]) " +
  "{ totalCount edges { node { id status validFrom } } } }";
const LAUREL_ISSUE =
  "mutation Issue($input: IssueCredentialInput!) { issueCredential(input: $input) { __typename ... on Credential { id status issuedAt } ... on Error { message } } }";

// ---- each server's answer reduced to the same plain rows
const instant = (value: unknown) => (typeof value === "string" ? new Date(value).toISOString() : value);
/** Laurel's global id is base64("Credential:<uuid>"); PostGraphile's is base64 of a JSON array ending in the key's columns. */
const laurelUuid = (id: string) => Buffer.from(id, "base64").toString().replace(`${LAUREL_NODE}:`, "");
const peerUuid = (id: string) => (JSON.parse(Buffer.from(id, "base64").toString()) as string[]).at(-1)!;
const edges = (connection: { edges: { node: Row }[] }) => connection.edges.map((e) => e.node);

const normalise = {
  laurelById: (d: any): Row => ({ id: laurelUuid(d.node.id), status: d.node.status, validFrom: instant(d.node.validFrom) }),
  peerById: (d: any): Row => {
    const c = d.credentialByTenantIdAndRowId;
    return { id: peerUuid(c.id), status: c.status, validFrom: instant(c.validFrom) };
  },
  laurelPage: (d: any): Row[] =>
    edges(d.tenant.credentials).map((n: any) => ({
      id: laurelUuid(n.id),
      status: n.status,
      validFrom: instant(n.issuedAt),
      name: n.recipient.name,
      email: n.recipient.email,
      template: n.templateVersion.name,
    })),
  peerPage: (d: any): Row[] =>
    edges(d.allCredentials).map((n: any) => ({
      id: peerUuid(n.id),
      status: n.status,
      validFrom: instant(n.validFrom),
      name: n.recipientByTenantIdAndRecipientId.name,
      email: n.recipientByTenantIdAndRecipientId.email,
      template: n.templateVersionByTenantIdAndTemplateIdAndTemplateVersion.name,
    })),
  laurelActive: (d: any) => ({
    totalCount: d.tenant.credentials.totalCount,
    rows: edges(d.tenant.credentials).map((n: any) => ({ id: laurelUuid(n.id), status: n.status, validFrom: instant(n.issuedAt) })),
  }),
  peerActive: (d: any) => ({
    totalCount: d.allCredentials.totalCount,
    rows: edges(d.allCredentials).map((n: any) => ({ id: peerUuid(n.id), status: n.status, validFrom: instant(n.validFrom) })),
  }),
};

/**
 * The four workloads. Reads ask tenant `reader` ((a) cycles through `ids`, credentials of that tenant);
 * issuance (d) writes into tenant `issuer`, so the rows the reads check never change under them.
 */
export function workloads(laurelUrl: string, peerUrl: string, reader: BenchTenant, issuer: BenchTenant, ids: string[], runTag: string): Workload[] {
  // As from a proxy that terminated TLS: production refuses a bearer token over plain HTTP (lib/transit.ts).
  const laurel = (token: string) => ({ url: `${laurelUrl}/graphql`, headers: { authorization: `Bearer ${token}`, "x-forwarded-proto": "https" } });
  const peer = { url: `${peerUrl}/graphql`, headers: { "x-tenant-id": reader.id } };
  const unchecked = () => false; // until verify() has seen the answers
  const side = (base: { url: string; headers: Record<string, string> }, body: (i: number) => string): Side => ({ ...base, body, check: unchecked });
  const q = (query: string, variables: object = {}) => JSON.stringify({ query, variables });
  let issued = 0; // a new recipient for every issuance, across warm-up and rounds
  return [
    {
      key: "a",
      title: "(a) one credential by id",
      laurel: side(laurel(reader.apiKey), (i) => q(LAUREL_BY_ID, { id: globalId(LAUREL_NODE, ids[i % ids.length]!) })),
      peer: side(peer, (i) => q(PEER_BY_ID, { tenantId: reader.id, id: ids[i % ids.length] })),
    },
    {
      key: "b",
      title: "(b) 50 credentials + recipient name/email + template name",
      laurel: side(laurel(reader.apiKey), () => q(LAUREL_PAGE)),
      peer: side(peer, () => q(PEER_PAGE, { tenantId: reader.id })),
    },
    {
      key: "c",
      title: "(c) ACTIVE credentials, first 20, totalCount",
      laurel: side(laurel(reader.apiKey), () => q(LAUREL_ACTIVE)),
      peer: side(peer, () => q(PEER_ACTIVE, { tenantId: reader.id })),
    },
    {
      key: "d",
      title: "(d) issueCredential, 1 per request (Laurel only)",
      laurel: {
        ...laurel(issuer.apiKey),
        body: () =>
          q(LAUREL_ISSUE, {
            input: {
              templateId: globalId("Template", issuer.templateId),
              recipient: { email: `issued-${runTag}-${++issued}@${issuer.slug}.example`, name: `Issued Person ${issued}` },
              fieldValues: { course: "Data 101" },
            },
          }),
        check: (_i, body) => body.includes('"__typename":"Credential"') && !body.includes('"errors"'),
      },
    },
  ];
}

/**
 * Asks both servers each read workload's requests (every id of (a)), compares their rows, and from then
 * on accepts under load only the exact bodies seen here. Returns one line per workload.
 */
export async function verify(list: Workload[], ids: number): Promise<string[]> {
  const lines: string[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  try {
    for (const w of list) {
      if (!w.peer) continue;
      const n = w.key === "a" ? ids : 1;
      const seen = { laurel: [] as Buffer[], peer: [] as Buffer[] };
      const problems: string[] = [];
      let rows = 0;
      let totalCount: unknown;
      for (let i = 0; i < n; i++) {
        const [l, p] = await Promise.all([send(agent, w.laurel, i), send(agent, w.peer, i)]);
        seen.laurel.push(l.body);
        seen.peer.push(p.body);
        const lj = parse(l.body);
        const pj = parse(p.body);
        if (l.status !== 200 || !lj?.data || lj.errors) problems.push(`Laurel answered ${l.status} ${l.body.toString().slice(0, 300)}`);
        if (p.status !== 200 || !pj?.data || pj.errors) problems.push(`PostGraphile answered ${p.status} ${p.body.toString().slice(0, 300)}`);
        if (problems.length) break;
        const [lr, pr] =
          w.key === "a"
            ? [normalise.laurelById(lj.data), normalise.peerById(pj.data)]
            : w.key === "b"
              ? [normalise.laurelPage(lj.data), normalise.peerPage(pj.data)]
              : [normalise.laurelActive(lj.data), normalise.peerActive(pj.data)];
        const a = JSON.stringify(lr);
        const b = JSON.stringify(pr);
        if (a !== b) problems.push(`request ${i}: Laurel ${a.slice(0, 400)} vs PostGraphile ${b.slice(0, 400)}`);
        rows += Array.isArray(lr) ? lr.length : "rows" in lr ? (lr.rows as Row[]).length : 1;
        if ("totalCount" in lr) totalCount = lr.totalCount;
      }
      if (problems.length) {
        w.wrong = problems.slice(0, 3).join("\n    ");
        lines.push(`${w.title}: ANSWERS DIFFER\n    ${w.wrong}`);
        continue;
      }
      const expected = (bodies: Buffer[]) => (i: number, body: Buffer) => body.equals(bodies[i % bodies.length]!);
      w.laurel.check = expected(seen.laurel);
      w.peer.check = expected(seen.peer);
      lines.push(
        `${w.title}: same rows from both (${n} request${n === 1 ? "" : "s"}, ${rows} row${rows === 1 ? "" : "s"} compared${totalCount === undefined ? "" : `, totalCount ${totalCount}`})`,
      );
    }
  } finally {
    agent.destroy();
  }
  return lines;
}

export interface Answer {
  status: number;
  body: Buffer;
}

export function send(agent: http.Agent, side: Side, i: number): Promise<Answer> {
  const target = new URL(side.url);
  const body = side.body(i);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: "POST",
        agent,
        headers: { "content-type": "application/json", accept: "application/json", "content-length": Buffer.byteLength(body), ...side.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

function parse(body: Buffer): any {
  try {
    return JSON.parse(body.toString());
  } catch {
    return undefined;
  }
}

/** The wall, seen through each server: one of `reader`'s credentials asked as `other` must come back as null. */
export async function wallCheck(laurelUrl: string, peerUrl: string, reader: BenchTenant, other: BenchTenant, id: string): Promise<string> {
  const agent = new http.Agent({ keepAlive: false });
  try {
    const q = (query: string, variables: object) => () => JSON.stringify({ query, variables });
    const check = () => false;
    const [l, p] = await Promise.all([
      send(agent, { url: `${laurelUrl}/graphql`, headers: { authorization: `Bearer ${other.apiKey}`, "x-forwarded-proto": "https" }, body: q(LAUREL_BY_ID, { id: globalId(LAUREL_NODE, id) }), check }, 0),
      send(agent, { url: `${peerUrl}/graphql`, headers: { "x-tenant-id": other.id }, body: q(PEER_BY_ID, { tenantId: reader.id, id }), check }, 0),
    ]);
    const seen = (answer: Answer, field: string) => {
      const json = parse(answer.body);
      return answer.status === 200 && json?.data && json.data[field] === null ? "null" : `NOT NULL: ${answer.status} ${answer.body.toString().slice(0, 200)}`;
    };
    return `tenant wall: ${reader.slug}'s credential asked as ${other.slug}: Laurel ${seen(l, "node")}, PostGraphile ${seen(p, "credentialByTenantIdAndRowId")}`;
  } finally {
    agent.destroy();
  }
}
