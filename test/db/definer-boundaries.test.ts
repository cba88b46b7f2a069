// Who may look across the tenant wall. A SECURITY DEFINER function sees what its owner sees: the
// functions that must look across tenants belong to the gatekeeper and can, every other belongs to the
// owner and cannot. Proved against real rows of two tenants, and by an allowlist of every function's
// owner and EXECUTE grants that fails when either changes without review (sql/README.md).
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { TEST_ROLES } from "../helpers/env.js";
import { seedTenant, type SeededTenant } from "./two-tenants.js";

let db: TestDatabase;
let a: SeededTenant;
let b: SeededTenant;
beforeAll(async () => {
  db = await createTestDatabase();
  a = await seedTenant(db.admin, "a");
  b = await seedTenant(db.admin, "b");
});
afterAll(async () => db.drop());

type Role = "owner" | "gatekeeper" | "login" | "member" | "anonymous" | "PUBLIC";
const G: Role = "gatekeeper";
const O: Role = "owner";

/** Every function of ours: its owner, and who else may execute it. A change here is a security review. */
const FUNCTIONS: Record<string, [owner: Role, execute: Role[]]> = {
  // Across tenants, each for its stated reason (sql/README.md).
  "accept_invitation(uuid,uuid,bytea,text,text,text,uuid,bytea,timestamp with time zone,text)": [G, ["anonymous", "member"]],
  // The invitee's address sealed under a key only the invitation's secret derives (sql/047): to the secret's holder only.
  "invitation_invitee_email(uuid,uuid,bytea)": [G, ["anonymous", "member"]],
  "apply_email_event(text,text,text,timestamp with time zone,text)": [G, ["anonymous"]],
  "authenticate_api_key(uuid,uuid,bytea)": [G, ["login"]],
  "authenticate_session(uuid,bytea)": [G, ["login"]],
  "create_tenant(text,text)": [G, ["member"]],
  "emit_partner_event_for(uuid,text,jsonb)": [G, []],
  "emit_partner_events_for(uuid,text,jsonb)": [G, ["owner"]],
  "log_in(text,bytea,uuid,uuid,bytea,timestamp with time zone,text)": [G, ["anonymous", "member"]],
  "login_parameters(text)": [G, ["anonymous", "member"]],
  "my_memberships()": [G, ["member"]],
  "public_achievement(uuid,uuid,integer)": [G, ["anonymous"]],
  "reset_password(uuid,bytea,text,uuid,bytea,timestamp with time zone,text)": [G, ["anonymous", "member"]],
  "start_password_reset(text,uuid,bytea,timestamp with time zone)": [G, ["anonymous", "member"]],
  "public_credential(uuid,uuid)": [G, ["anonymous"]],
  "public_image(uuid,uuid)": [G, ["anonymous"]],
  "public_issuer(uuid)": [G, ["anonymous"]],
  "public_status_list(uuid,uuid)": [G, ["anonymous"]],
  "record_engagement_events(jsonb)": [G, ["anonymous"]],
  "sender_domain_claimed_elsewhere(text)": [G, ["member"]],
  "sign_up(text,text,text,text,text,uuid,bytea,timestamp with time zone,text)": [G, ["anonymous", "member"]],
  "start_session(uuid,uuid,uuid,bytea,timestamp with time zone,text)": [G, []],
  "switch_session_tenant(uuid,uuid)": [G, ["member"]],
  "sealed_kek_versions()": [G, ["owner"]],
  // Which tenants need a KEK re-wrap, a legacy pass or a data-key rotation (sql/049): ids and flags, never a key.
  "key_maintenance_tenants(integer,timestamp with time zone)": [G, ["owner"]],
  "tenants_due_for_reminders()": [G, ["owner"]],
  "tenants_with_requests_to_warn(timestamp with time zone)": [G, ["owner"]],
  // Retention (sql/045): tenant ids, the earliest engagement horizon, a dropped partition's counts, provider events.
  "tenants_for_retention()": [G, ["owner"]],
  "engagement_expiry_floor()": [G, ["owner"]],
  "fold_expired_engagement(timestamp with time zone,timestamp with time zone)": [G, ["owner"]],
  "expire_provider_events(integer)": [G, ["owner"]],
  // Engagement analytics (sql/021): trigger functions (not callable directly) that count rows already
  // written in whichever tenant they are, their helpers, and the owner's compaction and rebuild.
  "analytics_on_credentials_inserted()": [G, ["owner"]],
  "analytics_on_credentials_updated()": [G, ["owner"]],
  "analytics_on_engagement_events()": [G, ["owner"]],
  "analytics_on_email_inserted()": [G, ["owner"]],
  "analytics_on_email_updated()": [G, ["owner"]],
  "analytics_on_tenant_zone_changed()": [G, ["owner"]],
  "analytics_add_event_deltas(analytics_event_delta[])": [G, []],
  "analytics_add_cohort_deltas(analytics_cohort_delta[])": [G, []],
  "analytics_add_latency_deltas(analytics_latency_delta[])": [G, []],
  "analytics_add_delivery_deltas(analytics_delivery_delta[])": [G, []],
  "analytics_credential_changes(analytics_credentials[])": [G, []],
  "analytics_lock_tenants(uuid[])": [G, []],
  "analytics_regrain(uuid,text)": [G, []],
  "compact_engagement_analytics(uuid)": [G, ["owner"]],
  "rebuild_engagement_analytics(uuid)": [G, ["owner"]],
  // Within the transaction's tenant.
  "allocate_status_slots(uuid,status_purpose,integer)": [O, ["member"]],
  "analytics_buckets(timestamp with time zone,timestamp with time zone,text,text)": [O, ["PUBLIC"]],
  "analytics_cover(uuid,timestamp with time zone,timestamp with time zone,text)": [O, ["PUBLIC"]],
  "analytics_cover_grains(timestamp with time zone,timestamp with time zone,text,text[])": [O, ["PUBLIC"]],
  "analytics_grain_ceil(text,timestamp with time zone,text)": [O, ["PUBLIC"]],
  "analytics_grain_floor(text,timestamp with time zone,text)": [O, ["PUBLIC"]],
  "analytics_hour(timestamp with time zone)": [O, ["PUBLIC"]],
  "is_known_time_zone(text)": [O, ["PUBLIC"]],
  "queue_task_names()": [O, ["PUBLIC"]],
  "data_subject_requests_keep_deadline()": [O, []],
  "analytics_zone_start(text,timestamp with time zone,text)": [O, ["PUBLIC"]],
  "analytics_latency_bin(double precision)": [O, ["PUBLIC"]],
  "analytics_outcome(email_status)": [O, ["PUBLIC"]],
  "analytics_sender_domain(text)": [O, ["PUBLIC"]],
  "analytics_slot(timestamp with time zone)": [O, ["PUBLIC"]],
  "analytics_stage_bit(engagement_type)": [O, ["PUBLIC"]],
  "analytics_zero_uuid()": [O, ["PUBLIC"]],
  // The processing rule (sql/037): invokers, under the caller's own rights and RLS.
  "processing_allowed(text,boolean,timestamp with time zone,timestamp with time zone,boolean,date,timestamp with time zone,text,timestamp with time zone)": [O, ["PUBLIC"]],
  "recipient_may_process(uuid,uuid,text)": [O, ["PUBLIC"]],
  "partner_event_allowed(uuid,text,jsonb)": [O, ["PUBLIC"]],
  "email_purpose(text)": [O, ["PUBLIC"]],
  "try_uuid(text)": [O, ["PUBLIC"]],
  "processing_purpose_unknown(text)": [O, ["PUBLIC"]],
  "argon2_phc(text)": [O, ["gatekeeper"]],
  "claim_email_messages(uuid[])": [O, ["member"]],
  "current_app_user_id()": [O, ["PUBLIC", "anonymous", "member"]],
  "current_tenant_id()": [O, ["PUBLIC", "anonymous", "member"]],
  "emit_partner_events(text,jsonb)": [O, ["member"]],
  "enqueue_job(text,jsonb,timestamp with time zone,text,integer)": [O, ["member"]],
  // GDPR Art. 17, within the current tenant only (sql/031).
  "erase_recipient(uuid,text[],bytea[])": [O, ["member"]],
  "erase_guardians(uuid)": [O, ["member"]],
  "erasure_redact(text,text[])": [O, []],
  "ensure_engagement_partitions(integer)": [O, []],
  // Retention within the current tenant, by its own settings only (sql/045); partitions by the owner alone.
  "advance_engagement_horizon()": [O, ["member"]],
  "expire_tenant_rows(text,integer)": [O, ["member"]],
  "blank_email_bodies(timestamp with time zone,integer)": [O, []],
  "drop_expired_engagement_partition()": [O, []],
  "forget_sent_secrets(uuid[])": [O, ["member"]],
  "memberships_keep_an_owner()": [O, ["PUBLIC"]],
  "only_owners_grant_owner()": [O, ["PUBLIC"]],
  "queue_job_for(uuid,text,jsonb,timestamp with time zone,text,integer)": [O, ["gatekeeper"]],
  "retry_tenant_job(bigint)": [O, ["member"]],
  "tenant_jobs(boolean)": [O, ["member"]],
  "touch_updated_at()": [O, ["PUBLIC"]],
  "uuid_v7()": [O, ["PUBLIC", "anonymous", "member"]],
};

const roleOf = (name: string): Role =>
  name === "PUBLIC" ? "PUBLIC" : ((Object.entries(TEST_ROLES).find(([, v]) => v === name)?.[0] ?? `?${name}`) as Role);

interface Fn {
  signature: string;
  owner: string;
  definer: boolean;
  grantees: string[];
  source: string;
}

async function functions(): Promise<Fn[]> {
  return db.admin<Fn[]>`
    select regexp_replace(p.oid::regprocedure::text, ', ', ',', 'g') as signature, pg_get_userbyid(p.proowner) as owner,
           p.prosecdef as definer, p.prosrc as source,
           array(select case when x.grantee = 0 then 'PUBLIC' else pg_get_userbyid(x.grantee) end
                   from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) x
                  where x.privilege_type = 'EXECUTE' and x.grantee <> p.proowner order by 1)::text[] as grantees
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
     where n.nspname in ('public', 'laurel_private')`;
}

/** Tables (and the decoy key) a function's source names. */
async function tablesNamedBy(source: string): Promise<string[]> {
  const named = [...new Set([...source.matchAll(/\b(public|laurel_private)\.([a-z_]+)\b/g)].map((m) => `${m[1]}.${m[2]}`))];
  const rows = await db.admin<{ name: string }[]>`
    select n.nspname || '.' || c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where c.relkind in ('r', 'p') and n.nspname || '.' || c.relname = any(${named})`;
  return rows.map((r) => r.name).sort();
}

async function allTables(): Promise<string[]> {
  const rows = await db.admin<{ name: string }[]>`
    select n.nspname || '.' || c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where c.relkind in ('r', 'p') and not c.relispartition and n.nspname in ('public', 'laurel_private')
       and c.relname not in ('laurel_migrations', 'worker_heartbeats')`;
  return rows.map((r) => r.name).sort();
}

/** Which of the two seeded tenants' rows a query in `table` returns; "denied" without a grant. */
async function visible(tx: postgres.TransactionSql, table: string): Promise<string[] | "denied"> {
  const queries: Record<string, string> = {
    "public.tenants": "select id::text as t from public.tenants",
    "public.users": "select case id when $3 then $1 when $4 then $2 end::text as t from public.users",
    "public.user_passwords": "select case user_id when $3 then $1 when $4 then $2 end::text as t from public.user_passwords",
    "public.sessions": "select case user_id when $3 then $1 when $4 then $2 end::text as t from public.sessions",
    "public.password_resets": "select case user_id when $3 then $1 when $4 then $2 end::text as t from public.password_resets",
    "public.email_provider_events": "select case provider_message_id when $5 then $1 when $6 then $2 end::text as t from public.email_provider_events",
    "laurel_private.login_decoy_key": "select t::text from laurel_private.login_decoy_key, unnest(array[$1::uuid, $2::uuid]) t",
  };
  // Every query names all six parameters, so PostgreSQL knows their types whichever it uses.
  const text = `select q.t from (${queries[table] ?? `select tenant_id::text as t from ${table}`}) q,
                (select $1::uuid, $2::uuid, $3::uuid, $4::uuid, $5::text, $6::text) typed`;
  try {
    const rows = await tx.savepoint((sp) =>
      sp.unsafe(text, [a.tenantId, b.tenantId, a.userId, b.userId, a.providerMessageId, b.providerMessageId]),
    );
    return [...new Set(rows.map((r) => r.t as string))].filter((t) => t === a.tenantId || t === b.tenantId).sort();
  } catch (error) {
    if ((error as postgres.PostgresError).code === "42501") return "denied";
    throw error;
  }
}

async function asRole<T>(role: string, tenantId: string | null, userId: string | null, work: (tx: postgres.TransactionSql) => Promise<T>) {
  return (await db.admin.begin(async (tx) => {
    await tx`select set_config('role', ${role}, true), set_config('app.tenant_id', ${tenantId ?? ""}, true), set_config('app.user_id', ${userId ?? ""}, true)`;
    return work(tx);
  })) as T;
}

describe("every function of ours", () => {
  it("has the reviewed owner and EXECUTE grants, and no other", async () => {
    const actual = Object.fromEntries((await functions()).map((f) => [f.signature, [roleOf(f.owner), f.grantees.map(roleOf).sort()]]));
    const expected = Object.fromEntries(Object.entries(FUNCTIONS).map(([k, [owner, grantees]]) => [k, [owner, [...grantees].sort()]]));
    expect(actual).toEqual(expected);
  });

  it("is SECURITY DEFINER only with a comment, search_path pinned and no EXECUTE for PUBLIC", async () => {
    const definers = (await functions()).filter((f) => f.definer);
    expect(definers.length).toBeGreaterThan(25);
    const [row] = await db.admin<{ bad: string[] }[]>`
      select array(select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                    where n.nspname in ('public', 'laurel_private') and p.prosecdef
                      and (obj_description(p.oid, 'pg_proc') is null or not ('search_path=pg_catalog, pg_temp' = any(p.proconfig)))) as bad`;
    expect(row!.bad).toEqual([]);
    expect(definers.filter((f) => f.grantees.includes("PUBLIC")).map((f) => f.signature)).toEqual([]);
  });
});

describe("the owner role (and every definer function it owns)", () => {
  it("is a member of the gatekeeper, to hand functions over, without inheriting its rights", async () => {
    const [row] = await db.admin`
      select pg_has_role(${TEST_ROLES.owner}, ${TEST_ROLES.gatekeeper}, 'MEMBER') as member,
             pg_has_role(${TEST_ROLES.owner}, ${TEST_ROLES.gatekeeper}, 'USAGE') as inherits`;
    expect(row).toEqual({ member: true, inherits: false });
  });

  it("sees only the transaction's tenant in every table, and nothing without one", async () => {
    const tables = await allTables();
    expect(tables.length).toBeGreaterThan(20);
    const ownTenantSeenIn = await asRole(TEST_ROLES.owner, b.tenantId, b.userId, async (tx) => {
      let own = 0;
      for (const table of tables) {
        const seen = await visible(tx, table);
        expect(seen === "denied" ? [] : seen.filter((t) => t !== b.tenantId), table).toEqual([]);
        if (seen !== "denied" && seen.includes(b.tenantId)) own++;
      }
      return own;
    });
    expect(ownTenantSeenIn).toBeGreaterThan(20); // the claimed tenant's rows are there to be seen
    await asRole(TEST_ROLES.owner, null, null, async (tx) => {
      for (const table of tables) expect(await visible(tx, table), table).toEqual([]);
    });
  });
});

describe("the gatekeeper", () => {
  it("owns exactly the functions that must look across tenants, each naming tables it has a policy on", async () => {
    const gatekept = (await functions()).filter((f) => f.owner === TEST_ROLES.gatekeeper);
    expect(gatekept.map((f) => f.signature).sort()).toEqual(Object.keys(FUNCTIONS).filter((k) => FUNCTIONS[k]![0] === G).sort());
    for (const f of gatekept) {
      for (const table of await tablesNamedBy(f.source)) {
        const [policy] = await db.admin`
          select count(*)::int as n from pg_policy p where p.polrelid = ${table}::regclass
             and (select oid from pg_roles where rolname = ${TEST_ROLES.gatekeeper}) = any(p.polroles)`;
        expect(policy!.n, `${f.signature} names ${table}`).toBeGreaterThan(0);
      }
    }
  });

  it("sees both tenants in every table its functions read, and nothing of the tables none of them names", async () => {
    const named = new Set<string>();
    for (const f of (await functions()).filter((f) => f.owner === TEST_ROLES.gatekeeper)) for (const t of await tablesNamedBy(f.source)) named.add(t);
    expect([...named]).toEqual(expect.arrayContaining(["public.sender_domains", "public.credentials", "public.user_passwords"]));
    await asRole(TEST_ROLES.gatekeeper, null, null, async (tx) => {
      for (const table of await allTables()) {
        const seen = await visible(tx, table);
        if (!named.has(table)) expect(seen, `${table} is named by no gatekeeper function`).toEqual("denied");
        else if (table !== "public.audit_log") expect(seen, table).toEqual([a.tenantId, b.tenantId].sort()); // audit_log: insert only
      }
    });
  });

  it("lets the sender-domain guard see another tenant's verified domain, and only answer yes or no", async () => {
    await asRole(TEST_ROLES.member, b.tenantId, b.userId, async (tx) => {
      expect(await tx`select sender_domain_claimed_elsewhere(${a.domain}) as taken`).toEqual([{ taken: true }]);
      expect(await tx`select sender_domain_claimed_elsewhere(${b.domain}) as taken`).toEqual([{ taken: false }]);
      expect(await tx`select sender_domain_claimed_elsewhere(${"nobody.example"}) as taken`).toEqual([{ taken: false }]);
    });
  });

  it("is a role no one logs in as and no runtime role can become", async () => {
    const [row] = await db.admin`
      select r.rolcanlogin as login, array(select m.rolname::text from pg_auth_members x join pg_roles m on m.oid = x.member
                                            where x.roleid = r.oid order by 1) as members
        from pg_roles r where r.rolname = ${TEST_ROLES.gatekeeper}`;
    expect(row!.login).toBe(false);
    expect(row!.members).toEqual([TEST_ROLES.owner]);
  });
});
