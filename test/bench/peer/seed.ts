// The data of `npm run bench:peer`: two tenants made as Laurel makes them (sign_up, a template and an
// API key through Laurel's services), a few credentials issued and signed through Laurel's API, then
// multiplied in SQL to 10,000 recipients and 50,000 credentials per tenant.
import postgres from "postgres";
import { createPrisma } from "../../../src/db/database.js";
import { withTenantTransaction } from "../../../src/db/tenant-transaction.js";
import { createApiKey } from "../../../src/modules/api-keys/service.js";
import { ROLE_PERMISSIONS } from "../../../src/modules/auth/permissions.js";
import { createTemplate, setTemplateStatus } from "../../../src/modules/templates/service.js";
import { createLaurelClient, IssueCredentialDocument } from "../../../src/sdk/index.js";
import type { DbRoles } from "../../../src/config.js";

export interface BenchTenant {
  id: string;
  slug: string;
  userId: string;
  templateId: string;
  /** A real API key (lrk_...) with the read and issue scopes, made for this run. */
  apiKey: string;
}

export const TENANT_SLUGS = ["bench-peer-a", "bench-peer-b"] as const;

const FIRST = ["Ada", "Grace", "Alan", "Katherine", "Edsger", "Barbara", "Donald", "Frances", "Tim", "Radia", "Hedy", "Claude", "Margaret", "Dennis", "Sophie", "Kenji", "Amara", "Mateo", "Zainab", "Ioana"];
const LAST = ["Lovelace", "Hopper", "Turing", "Johnson", "Dijkstra", "Liskov", "Knuth", "Allen", "Berners-Lee", "Perlman", "Lamarr", "Shannon", "Hamilton", "Ritchie", "Wilson", "Tanaka", "Okafor", "García", "Haddad", "Popescu"];

/** Each tenant: signed up (or found, on BENCH_REUSE), its active template, and a new API key. */
export async function prepareTenants(adminUrl: string, appUrl: string, roles: DbRoles, fresh: boolean): Promise<BenchTenant[]> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  const prisma = createPrisma(appUrl, 2);
  try {
    const tenants: BenchTenant[] = [];
    for (const [i, slug] of TENANT_SLUGS.entries()) {
      const [row] = fresh
        ? await admin<{ user_id: string; tenant_id: string }[]>`
            select user_id, tenant_id from sign_up(${`owner@${slug}.example`}, 'Olive Owner', 'not a real hash', ${`Bench University ${"AB"[i]}`}, ${slug})`
        : await admin<{ user_id: string; tenant_id: string }[]>`
            select m.user_id, t.id as tenant_id from tenants t join memberships m on m.tenant_id = t.id and m.role = 'owner' where t.slug = ${slug}`;
      if (!row) throw new Error(`tenant ${slug} not found: run without BENCH_REUSE to seed it`);
      const caller = { tenantId: row.tenant_id, actor: { kind: "user" as const, id: row.user_id }, permissions: ROLE_PERMISSIONS.owner, requestId: "bench-peer" };
      const claims = { dbRole: roles.member, tenantId: row.tenant_id, userId: row.user_id };
      const { templateId, secret } = await withTenantTransaction(prisma, claims, async (db) => {
        let template = await db.template.findFirst({ where: { tenantId: row.tenant_id }, orderBy: { createdAt: "asc" } });
        if (!template) {
          template = await createTemplate(db, caller, "BADGE", {
            name: "Data Stewardship",
            description: "Looks after an organisation's data with care.",
            credentialDescription: "Awarded to {{recipientName}} for {{course}}.",
            criteriaNarrative: "Pass the final assessment.",
            customFields: [{ name: "course", type: "TEXT", required: true }],
          });
          await setTemplateStatus(db, caller, template.id, "ACTIVE");
        }
        const key = await createApiKey(db, caller, { name: `bench-peer ${new Date().toISOString()}`, scopes: ["read", "issue"] });
        return { templateId: template.id, secret: key.secret };
      });
      tenants.push({ id: row.tenant_id, slug, userId: row.user_id, templateId, apiKey: secret });
    }
    return tenants;
  } finally {
    await prisma.prisma.$disconnect();
    await prisma.pool.end();
    await admin.end();
  }
}

/** Issues `count` credentials through Laurel's GraphQL API (signed for real), one recipient each. */
export async function issueThroughLaurel(graphqlUrl: string, tenant: BenchTenant, count: number): Promise<void> {
  const client = createLaurelClient({ url: graphqlUrl, token: tenant.apiKey, headers: { "x-forwarded-proto": "https" } }); // as from a TLS-terminating proxy
  for (let i = 0; i < count; i++) {
    const { issueCredential } = await client.request(IssueCredentialDocument, {
      input: {
        templateId: globalId("Template", tenant.templateId),
        idempotencyKey: `seed-${i}`,
        recipient: { email: `person0-${i}@${tenant.slug}.example`, name: `${FIRST[i % FIRST.length]} ${LAST[(i * 7) % LAST.length]}` },
        fieldValues: { course: `Data ${101 + (i % 5)}` },
      },
    });
    if (issueCredential.__typename !== "Credential") throw new Error(`seed issuance failed: ${JSON.stringify(issueCredential)}`);
  }
}

/**
 * Tops the tenant up to `recipients` people and `credentials` credentials (as the superuser, so with
 * the analytics triggers but no RLS). Each copy takes a real credential's signed document with its own
 * id written in (the signature no longer verifies; nothing in the bench reads it), new status indexes
 * after the real ones, a recipient in turn, and an issue time one to ten minutes before the previous
 * copy's. One in ten is revoked and one in twenty suspended, so ACTIVE is a filter with work to do.
 */
export async function multiply(adminUrl: string, tenant: BenchTenant, recipients: number, credentials: number): Promise<void> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.begin(async (tx) => {
      const [have] = await tx<{ n: number }[]>`select count(*)::int as n from recipients where tenant_id = ${tenant.id}`;
      await tx`
        insert into recipients (tenant_id, id, email, name)
        select ${tenant.id}, gen_random_uuid(), 'person' || g || '@' || ${tenant.slug} || '.example',
               (${FIRST}::text[])[1 + g % ${FIRST.length}] || ' ' || (${LAST}::text[])[1 + (g / ${FIRST.length}) % ${LAST.length}]
          from generate_series(1, ${recipients - have!.n}) g`;
      const [real] = await tx<{ n: number; next_status: number; next_suspension: number }[]>`
        select count(*)::int as n, max(status_index) + 1 as next_status, max(suspension_index) + 1 as next_suspension
          from credentials where tenant_id = ${tenant.id}`;
      await tx`
        with people as (select id, (row_number() over (order by id))::int - 1 as n from recipients where tenant_id = ${tenant.id}),
             originals as (select *, (row_number() over (order by id))::int - 1 as n from credentials where tenant_id = ${tenant.id}),
             copies as (
               select g, gen_random_uuid() as id,
                      date_trunc('milliseconds', now() - make_interval(secs => g * 60 + (g * 7919) % 540)) as at
                 from generate_series(1, ${credentials - real!.n}) g)
        insert into credentials (tenant_id, id, template_id, template_version, recipient_id, status, status_list_id, status_index,
                                 suspension_list_id, suspension_index, issued_at, valid_from, field_values, evidence, document,
                                 revoked_at, revocation_reason, suspended_at, created_at)
        select o.tenant_id, c.id, o.template_id, o.template_version, p.id,
               (case when c.g % 10 = 0 then 'REVOKED' when c.g % 20 = 5 then 'SUSPENDED' else 'ACTIVE' end)::credential_status,
               o.status_list_id, ${real!.next_status} + c.g - 1, o.suspension_list_id, ${real!.next_suspension} + c.g - 1,
               c.at, c.at, o.field_values, o.evidence, replace(o.document::text, o.id::text, c.id::text)::json,
               case when c.g % 10 = 0 then c.at + interval '1 day' end, case when c.g % 10 = 0 then 'Issued in error' end,
               case when c.g % 20 = 5 then c.at + interval '2 days' end, c.at
          from copies c
          join originals o on o.n = c.g % ${real!.n}
          join people p on p.n = c.g % ${recipients}`;
      // The next issuance takes the index after the copies'.
      await tx`
        update status_lists l set next_index = s.next from (
          select status_list_id as id, max(status_index) + 1 as next from credentials where tenant_id = ${tenant.id} group by 1
          union all
          select suspension_list_id, max(suspension_index) + 1 from credentials where tenant_id = ${tenant.id} group by 1) s
         where l.tenant_id = ${tenant.id} and l.id = s.id`;
    });
  } finally {
    await admin.end();
  }
}

export function globalId(type: string, id: string): string {
  return Buffer.from(`${type}:${id}`).toString("base64");
}
