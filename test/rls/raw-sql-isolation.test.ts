// The wall without the application: the runtime roles, connected as the server connects, and the
// tenant transaction helper, against real rows of two tenants. Every attempt to cross must fail.
import { randomBytes, randomUUID } from "node:crypto";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withTenantSql, type Claims } from "../../src/db/tenant-transaction.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { TEST_ENV, TEST_ROLES } from "../helpers/env.js";
import { loadConfig } from "../../src/config.js";
import { Vault } from "../../src/modules/vault/vault.js";
import { sealInvitationEmail } from "../../src/modules/members/invitation-email.js";

let db: TestDatabase;
let login: postgres.Sql;
let vault: Vault;
interface Seeded {
  tenantId: string;
  userId: string;
  apiKeyId: string;
  invitationId: string;
  membershipId: string;
  messageId: string;
  endpointId: string;
}
let a: Seeded;
let b: Seeded;

const TENANT_TABLES = [
  "memberships", "api_keys", "invitations", "audit_log", "email_outbox",
  "email_settings", "sender_domains", "email_templates", "webhook_endpoints", "webhook_deliveries", "webhook_attempts", "engagement_events",
];

async function seedTenant(label: string): Promise<Seeded> {
  const email = `${label}-${randomBytes(3).toString("hex")}@example.test`;
  const [t] = await db.admin`select user_id, tenant_id from sign_up(${email}, ${label}, 'hash', ${`Org ${label}`}, ${`org-${label}-${randomBytes(3).toString("hex")}`})`;
  const tenantId = t!.tenant_id as string;
  const userId = t!.user_id as string;
  const [k] = await db.admin`
    insert into api_keys (tenant_id, name, prefix, secret_hash, scopes)
    values (${tenantId}, 'key', 'lrk_x', ${Buffer.alloc(32, 1)}, '{read}') returning id`;
  // Arranged as the superuser in the legacy (pre-sealing) shape: these rows only need to exist for the wall to hide them.
  const [i] = await db.admin`
    insert into invitations (tenant_id, legacy_email, role, secret_hash, expires_at)
    values (${tenantId}, ${`invitee@${label}.test`}, 'viewer', ${Buffer.alloc(32, 2)}, now() + interval '1 day') returning id`;
  const [o] = await db.admin`insert into email_outbox (tenant_id, kind, legacy_to_email, idempotency_key, legacy_payload)
                             values (${tenantId}, 'invitation', 'x@y.test', ${`k-${label}`}, '{"token": "secret"}') returning id`;
  const [m] = await db.admin`select id from memberships where tenant_id = ${tenantId}`;
  await db.admin`insert into email_settings (tenant_id, from_name) values (${tenantId}, ${label})`;
  await db.admin`insert into sender_domains (tenant_id, domain) values (${tenantId}, ${`${label}.example`})`;
  await db.admin`insert into email_templates (tenant_id, kind, locale, subject, html, text) values (${tenantId}, 'credential_issued', 'en', 's', 'h', 't')`;
  const [e] = await db.admin`insert into webhook_endpoints (tenant_id, url, event_types, secret_sealed, secret_kek_version)
                             values (${tenantId}, 'https://partner.example/hook', '{credential.issued}', '\\x00', 1) returning id`;
  const [d] = await db.admin`insert into webhook_deliveries (tenant_id, endpoint_id, event_type, payload) values (${tenantId}, ${e!.id}, 'credential.issued', '{}') returning id`;
  await db.admin`insert into webhook_attempts (tenant_id, delivery_id, attempt, status_code, duration_ms) values (${tenantId}, ${d!.id}, 1, 500, 3)`;
  await db.admin`insert into engagement_events (tenant_id, occurred_at, type, channel, ua_class) values (${tenantId}, now(), 'page_viewed', 'web', 'desktop')`;
  return { tenantId, userId, apiKeyId: k!.id, invitationId: i!.id, membershipId: m!.id, messageId: o!.id, endpointId: e!.id };
}

const member = (s: Seeded): Claims => ({ dbRole: TEST_ROLES.member, tenantId: s.tenantId, userId: s.userId });
const as = <T>(claims: Claims, work: (tx: postgres.TransactionSql) => Promise<T>) => withTenantSql(login, claims, work);

beforeAll(async () => {
  db = await createTestDatabase();
  login = postgres(db.loginUrl, { max: 5, onnotice: () => {} });
  vault = new Vault(loadConfig({ ...TEST_ENV, DATABASE_URL: db.adminUrl, NODE_ENV: "test" }).keks);
  a = await seedTenant("a");
  b = await seedTenant("b");
});
afterAll(async () => {
  await login.end();
  await db.drop();
});

describe("as tenant B's member, tenant A's rows", () => {
  it("are invisible in every tenant table, by id and in full scans", async () => {
    await as(member(b), async (tx) => {
      for (const table of TENANT_TABLES) {
        const rows = await tx.unsafe(`select tenant_id from ${table}`);
        expect(rows.length, table).toBeGreaterThan(0);
        expect(rows.every((r) => r.tenant_id === b.tenantId), table).toBe(true);
        const byId = await tx.unsafe(`select 1 from ${table} where tenant_id = $1`, [a.tenantId]);
        expect(byId, table).toHaveLength(0);
      }
      expect(await tx`select id from tenants`).toEqual([{ id: b.tenantId }]);
      expect(await tx`select id from users where id = ${a.userId}`).toHaveLength(0);
    });
  });

  it("cannot be updated or deleted", async () => {
    await as(member(b), async (tx) => {
      expect((await tx`update api_keys set revoked_at = now() where id = ${a.apiKeyId}`).count).toBe(0);
      expect((await tx`update invitations set revoked_at = now() where id = ${a.invitationId}`).count).toBe(0);
      expect((await tx`update memberships set role = 'viewer' where id = ${a.membershipId}`).count).toBe(0);
      expect((await tx`delete from memberships where id = ${a.membershipId}`).count).toBe(0);
      expect((await tx`update tenants set name = 'pwned' where id = ${a.tenantId}`).count).toBe(0);
      expect((await tx`update users set name = 'pwned' where id = ${a.userId}`).count).toBe(0);
    });
    const [key] = await db.admin`select revoked_at from api_keys where id = ${a.apiKeyId}`;
    expect(key!.revoked_at).toBeNull();
    const [tenant] = await db.admin`select name from tenants where id = ${a.tenantId}`;
    expect(tenant!.name).toBe("Org a");
  });

  it("cannot be created by forging tenant_id on insert", async () => {
    await expect(
      as(member(b), (tx) => tx`insert into audit_log (tenant_id, actor_kind, action) values (${a.tenantId}, 'system', 'forged.entry')`),
    ).rejects.toThrow(/row-level security/);
    await expect(
      as(member(b), (tx) => tx`
        insert into api_keys (tenant_id, name, prefix, secret_hash, scopes)
        values (${a.tenantId}, 'forged', 'x', ${Buffer.alloc(32)}, '{admin}')`),
    ).rejects.toThrow(/row-level security/);
    await expect(
      as(member(b), (tx) => tx`update api_keys set tenant_id = ${a.tenantId} where tenant_id = ${b.tenantId}`),
    ).rejects.toThrow(/permission denied|row-level security/);
    const [n] = await db.admin`select count(*)::int as n from audit_log where action = 'forged.entry'`;
    expect(n!.n).toBe(0);
  });
});

describe("without a tenant", () => {
  it("the member role sees zero rows in every tenant table", async () => {
    await as({ dbRole: TEST_ROLES.member, tenantId: null, userId: null }, async (tx) => {
      for (const table of [...TENANT_TABLES, "tenants", "users", "sessions"]) {
        expect(await tx.unsafe(`select 1 from ${table}`), table).toHaveLength(0);
      }
    });
  });

  it("the anonymous role may not read any table, only call its definer functions", async () => {
    for (const table of [...TENANT_TABLES, "tenants", "users", "user_passwords", "sessions"]) {
      await expect(as({ dbRole: TEST_ROLES.anonymous, tenantId: null, userId: null }, (tx) => tx.unsafe(`select 1 from ${table}`)), table).rejects.toThrow(
        /permission denied/,
      );
    }
  });

  it("the login role cannot become the owner or the gatekeeper, nor reach the gatekeeper's secrets", async () => {
    for (const role of [TEST_ROLES.owner, TEST_ROLES.gatekeeper]) {
      await expect(login.begin((tx) => tx.unsafe(`set local role "${role}"`)), role).rejects.toThrow(/permission denied/);
    }
    for (const claims of [{ dbRole: TEST_ROLES.anonymous, tenantId: null, userId: null }, member(a)]) {
      await expect(as(claims, (tx) => tx`select key from laurel_private.login_decoy_key`)).rejects.toThrow(/permission denied/);
    }
  });

  it("the login role itself may not read any table", async () => {
    await expect(login`select * from api_keys`).rejects.toThrow(/permission denied/);
    await expect(login`select * from users`).rejects.toThrow(/permission denied/);
  });

  it("nobody at runtime reads password hashes or key hashes", async () => {
    await expect(as(member(a), (tx) => tx`select hash from user_passwords`)).rejects.toThrow(/permission denied/);
    await expect(as(member(a), (tx) => tx`select secret_hash from api_keys`)).rejects.toThrow(/permission denied/);
    // An outbox payload may hold an invitation's token. The member role may read the sealed payload (data-key
    // rotation re-seals it as the tenant), but only as ciphertext: the token is not in it, and the anonymous
    // role reads neither the sealed nor the legacy payload.
    const rows = await as(member(a), (tx) => tx`select payload_sealed, legacy_payload from email_outbox where payload_sealed is not null`);
    for (const row of rows) expect(Buffer.from(row.payload_sealed as Uint8Array).includes("lri_")).toBe(false);
    for (const column of ["payload_sealed", "legacy_payload", "content_sealed"]) {
      await expect(as({ dbRole: TEST_ROLES.anonymous, tenantId: a.tenantId, userId: null }, (tx) => tx.unsafe(`select ${column} from email_outbox`)), column).rejects.toThrow(/permission denied/);
    }
  });
});

describe("the delivery functions, called as tenant B", () => {
  it("cannot claim, retry, list or emit for tenant A", async () => {
    await as(member(b), async (tx) => {
      expect(await tx`select * from claim_email_messages(${[a.messageId]}::uuid[])`).toHaveLength(0);
      await tx`select enqueue_job('send_emails', ${tx.json({ messageIds: [a.messageId] })})`;
      expect(await tx`select emit_partner_events('credential.issued', '[{"credentialId": "x"}]'::jsonb) as n`).toEqual([{ n: 1 }]); // B's own endpoint only
    });
    const [job] = await db.admin`select id, payload::jsonb ->> 'tenantId' as tenant from graphile_worker._private_jobs order by id desc limit 1`;
    expect(job!.tenant).toBe(b.tenantId); // stamped with the caller's tenant, whatever the payload said
    await db.admin`update graphile_worker._private_jobs set attempts = max_attempts, last_error = 'x'`;
    await as(member(a), async (tx) => {
      expect(await tx`select * from tenant_jobs(false)`).toHaveLength(0);
      expect(await tx`select retry_tenant_job(${job!.id}) as ok`).toEqual([{ ok: false }]);
    });
    await as(member(b), async (tx) => {
      expect(await tx`select id from tenant_jobs(true)`).toHaveLength(2); // the enqueued job and B's webhook delivery job
    });
    expect(await db.admin`select 1 from webhook_deliveries where tenant_id = ${a.tenantId}`).toHaveLength(1); // only the seeded one
  });

  it("cannot touch the queue's tables or the engagement table's partitions directly", async () => {
    await expect(as(member(a), (tx) => tx`select * from graphile_worker._private_jobs`)).rejects.toThrow(/permission denied/);
    await expect(as(member(a), (tx) => tx`select graphile_worker.add_job('send_emails', '{}'::json)`)).rejects.toThrow(/permission denied/);
    await expect(as(member(a), (tx) => tx.unsafe(`select * from engagement_partitions.engagement_events_default`))).rejects.toThrow(/permission denied/);
    await expect(as(member(a), (tx) => tx`delete from engagement_events`)).rejects.toThrow(/permission denied/);
    await expect(as(member(a), (tx) => tx`select secret_sealed from webhook_endpoints`)).resolves.toBeDefined(); // sealed: useless without the KEK
  });
});

describe("the tenant transaction", () => {
  it("leaves no tenant behind on its pooled connection", async () => {
    const single = postgres(db.loginUrl, { max: 1, onnotice: () => {} });
    await withTenantSql(single, member(a), (tx) => tx`select 1`);
    const [row] = await single`select current_tenant_id() as t, current_user as u`;
    expect(row!.t).toBeNull();
    expect(row!.u).toBe(TEST_ROLES.login);
    await single.end();
  });

  it("keeps 300 concurrent transactions of two tenants on a pool of 5 apart", async () => {
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, i) => {
        const who = i % 2 ? a : b;
        return as(member(who), async (tx) => {
          const rows = await tx`select distinct tenant_id from api_keys`;
          return rows.every((r) => r.tenant_id === who.tenantId) && rows.length === 1;
        });
      }),
    );
    expect(results.filter((ok) => !ok)).toHaveLength(0);
  });
});

describe("the same names in two tenants", () => {
  it("are allowed, and a unique violation in one says nothing about the other", async () => {
    const email = "same.person@example.test";
    // Written as the app writes them: the address sealed with the tenant's own keys, its blind index beside it.
    const invite = (who: Seeded, role: string, secretByte: number) =>
      as(member(who), async (tx) => {
        const keys = await vault.forTenantSql(tx, who.tenantId);
        const id = randomUUID();
        const sealed = sealInvitationEmail(keys, id, randomBytes(32), email);
        await tx`insert into invitations (tenant_id, id, key_version, email_sealed, email_index, invitee_email_sealed, email_check, role, secret_hash, expires_at)
          values (${who.tenantId}, ${id}, ${sealed.keyVersion}, ${Buffer.from(sealed.emailSealed)}, ${Buffer.from(keys.blindIndex("email", email))},
                  ${Buffer.from(sealed.inviteeEmailSealed)}, ${Buffer.from(sealed.emailCheck)}, ${role}::member_role, ${Buffer.alloc(32, secretByte)}, now() + interval '1 day')`;
      });
    await invite(a, "viewer", 3);
    await invite(b, "viewer", 4);
    const error = await invite(b, "admin", 5).catch((e: postgres.PostgresError) => e);
    expect((error as postgres.PostgresError).code).toBe("23505");
    expect((error as postgres.PostgresError).constraint_name).toBe("invitations_open_email_index");
    expect(String((error as postgres.PostgresError).detail ?? "")).not.toContain(a.tenantId);
    expect(String((error as postgres.PostgresError).detail ?? "")).not.toContain(email);
  });
});
