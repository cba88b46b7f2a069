// The analytics benchmark's data: a database of its own (laurel_bench_analytics, migrated with the test
// roles, never a deployment's laurel_* roles) holding two tenants, each with 1,000,000 credentials
// issued over the last 12 months and 10,000,000 engagement events, then the aggregates rebuilt as
// `npm run analytics:rebuild` does (rebuild_engagement_analytics per tenant), timed, with the
// PostgreSQL backend's peak memory sampled from /proc.
//
// Raw rows are written set-based as the superuser (generate_series, insert ... select) with the
// analytics triggers disabled and foreign-key triggers skipped (session_replication_role = replica;
// every key is made consistent by construction), and the event table's indexes built after the load.
// The shape aims at what a real issuer sees: ~20 templates with tags (a few with a second version
// whose tags differ), ~150 bulk jobs whose credentials are issued within hours of each other and
// stamped with bulk_job_id, the rest issued singly across the year (more recently than not), six
// recipient locales, tracking consent for ~85% (their events stored as record_engagement_events stores
// them: no credential, recipient, message or IP, time truncated to the hour), ~10% machine traffic
// (mail proxies, link scanners, bots), events after their credential's issue (most within days), each
// credential's email with a delivered/bounced/complained/failed/sent outcome on two sender domains.
//
//   npx tsx test/bench/analytics-seed.ts [--reseed] [--database NAME] [--credentials N] [--events N] [--rebuild-tenants N]
// Reuses the database when it holds the expected counts (--reseed drops and rebuilds it); a run stopped
// during the rebuilds resumes there. --rebuild-tenants 1 leaves the second tenant with raw rows only.
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { migrate } from "../../src/db/migrate.js";
import { TEST_ENV, TEST_LOGIN_PASSWORD, TEST_ROLES, adminUrlFor } from "../helpers/env.js";

/** Bumped whenever the generator changes, so an older seed is rebuilt rather than reused. */
export const SEED_VERSION = 2;

export interface SeedOptions {
  serverUrl: string;
  database?: string;
  reseed?: boolean;
  /** Per tenant. */
  credentials?: number;
  /** Per tenant. */
  events?: number;
  /** How many tenants (first ones first) get their aggregates from the rebuild command; default all. */
  rebuildTenants?: number;
  log?: (line: string) => void;
}

export interface SeededTenant {
  id: string;
  slug: string;
  timeZone: string;
  ownerUserId: string;
}

export interface RebuildFigures {
  tenantId: string;
  /** The rebuild statement (rebuild_engagement_analytics), s. */
  seconds: number;
  /** The compaction the command runs after it, s. */
  compactSeconds: number;
  /** The whole command, process start to exit, s. */
  commandSeconds: number;
  /** What the command printed. */
  output: string;
  /** A setting the command needed to finish (seeds recorded before sql/025 set enable_nestloop itself). */
  workaround?: string | null;
  /** Highest resident set of the backend (VmHWM: private memory plus shared buffers it touched), MiB. */
  peakRssMb: number;
  /** Highest private (anonymous) resident memory seen while sampling every 100 ms, MiB. */
  peakAnonMb: number;
  /** Bytes the rebuild spilled to temporary files (pg_stat_database.temp_bytes delta), MiB. */
  tempMb: number;
  counts: Record<string, number>;
}

export interface SeedInfo {
  version: number;
  credentials: number;
  events: number;
  seededAt: string;
  seedSeconds: number;
  rebuild: RebuildFigures[];
}

export interface SeedResult {
  adminUrl: string;
  tenants: SeededTenant[];
  reused: boolean;
  info: SeedInfo;
}

const TENANTS = [
  { slug: "bench-analytics-one", name: "Analytics Bench University", timeZone: "America/New_York" },
  { slug: "bench-analytics-two", name: "Analytics Bench Academy", timeZone: "Europe/Berlin" },
];

const TEMPLATE_NAMES = [
  "Cloud Practitioner", "Data Analysis Foundations", "Workplace Safety Induction", "Leadership Essentials",
  "Python Programming", "Project Management Professional", "Cybersecurity Awareness", "Customer Service Excellence",
  "Machine Learning Specialist", "First Aid at Work", "Agile Scrum Master", "Financial Literacy",
  "Public Speaking", "UX Design Fundamentals", "Kubernetes Administrator", "Diversity and Inclusion",
  "Advanced Excel", "Sustainability Champion", "Mentor Programme Graduate", "Annual Compliance Training",
];
const TAGS = ["cloud", "data", "safety", "leadership", "engineering", "compliance", "onboarding", "security"];

export async function seedAnalytics(options: SeedOptions): Promise<SeedResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const database = options.database ?? "laurel_bench_analytics";
  const credentials = options.credentials ?? 1_000_000;
  const events = options.events ?? 10_000_000;
  const rebuildTenants = Math.min(TENANTS.length, options.rebuildTenants ?? TENANTS.length);
  const adminUrl = adminUrlFor(options.serverUrl, database);
  const root = postgres(adminUrlFor(options.serverUrl, "postgres"), { max: 1, onnotice: () => {} });
  try {
    const [exists] = await root`select 1 from pg_database where datname = ${database}`;
    if (exists && !options.reseed) {
      const reusable = await checkSeed(adminUrl, credentials, events);
      if (reusable) {
        // New migrations since the seed was made (a no-op when there are none).
        await migrate({ adminUrl, roles: TEST_ROLES, loginPassword: TEST_LOGIN_PASSWORD });
        log(`seed: reusing ${database} (${credentials.toLocaleString()} credentials, ${events.toLocaleString()} events per tenant); --reseed to rebuild it`);
        // A run stopped during the rebuilds resumes with the tenants not yet rebuilt.
        const info = await rebuildMissing(adminUrl, database, reusable.tenants, reusable.info, rebuildTenants, log);
        return { adminUrl, reused: true, tenants: reusable.tenants, info };
      }
      log(`seed: ${database} exists without the expected rows; rebuilding it`);
    }
    await root.unsafe(`drop database if exists "${database}" with (force)`);
    await root.unsafe(`create database "${database}"`);
  } finally {
    await root.end();
  }

  const started = performance.now();
  const step = async <T>(label: string, work: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const out = await work();
    log(`seed: ${label} (${((performance.now() - t0) / 1000).toFixed(1)}s)`);
    return out;
  };
  await step("migrated", () => migrate({ adminUrl, roles: TEST_ROLES, loginPassword: TEST_LOGIN_PASSWORD }));
  const sql = await seedingSession(adminUrl);
  try {
    const [{ now }] = (await sql`select date_trunc('second', now()) as now`) as unknown as [{ now: Date }];
    const nowLit = `'${now.toISOString()}'::timestamptz`;

    const tenants: SeededTenant[] = [];
    for (const t of TENANTS) {
      const [row] = await sql`select user_id, tenant_id from sign_up(${`owner@${t.slug}.example`}, 'Bench Owner', 'x', ${t.name}, ${t.slug})`;
      await sql`update tenants set time_zone = ${t.timeZone} where id = ${row!.tenant_id}`;
      tenants.push({ id: row!.tenant_id as string, slug: t.slug, timeZone: t.timeZone, ownerUserId: row!.user_id as string });
    }
    await step("monthly event partitions for the past 13 months", () => sql.unsafe(`
      do $$
      declare m date := (date_trunc('month', ${nowLit}) - interval '13 months')::date;
      begin
        while m < date_trunc('month', ${nowLit}) loop
          if to_regclass('engagement_partitions.engagement_events_' || to_char(m, 'YYYY_MM')) is null then
            execute format('create table engagement_partitions.%I partition of public.engagement_events for values from (%L) to (%L)',
                           'engagement_events_' || to_char(m, 'YYYY_MM'), m, (m + interval '1 month')::date);
          end if;
          m := (m + interval '1 month')::date;
        end loop;
      end $$;
      select ensure_engagement_partitions(3);`));

    // Raw rows only: the aggregates come from the rebuild below, as after a migration.
    const triggers = await sql<{ tgname: string; rel: string }[]>`
      select t.tgname, t.tgrelid::regclass::text as rel from pg_trigger t where not t.tgisinternal and t.tgname like 'analytics\\_%' order by 2, 1`;
    for (const t of triggers) await sql.unsafe(`alter table ${t.rel} disable trigger ${t.tgname}`);
    // Indexes of the event table are built once after the load (same definitions, same names).
    const eventIndexes = await sql<{ name: string; def: string; is_constraint: boolean }[]>`
      select c.relname as name, pg_get_indexdef(i.indexrelid) as def, exists (select 1 from pg_constraint k where k.conindid = i.indexrelid) as is_constraint
        from pg_index i join pg_class c on c.oid = i.indexrelid where i.indrelid = 'engagement_events'::regclass order by 1`;
    await sql.unsafe(`alter table engagement_events drop constraint engagement_events_pkey`);
    for (const ix of eventIndexes.filter((i) => !i.is_constraint)) await sql.unsafe(`drop index ${ix.name}`);

    // One session per tenant, side by side: the machine has two cores.
    await Promise.all(tenants.map(async (tenant, i) => {
      const own = await seedingSession(adminUrl);
      try {
        await seedTenant(own, tenant, { credentials, events, nowLit, step: (label, work) => step(`tenant ${i + 1}: ${label}`, work) });
      } finally {
        await own.end();
      }
    }));

    await step("event indexes built", async () => {
      await sql.unsafe(`alter table engagement_events add constraint engagement_events_pkey primary key (tenant_id, occurred_at, id)`);
      // pg_get_indexdef says ON ONLY for a partitioned parent; built here, every partition gets its index.
      for (const ix of eventIndexes.filter((i) => !i.is_constraint)) await sql.unsafe(ix.def.replace(" ON ONLY ", " ON "));
    });
    for (const t of triggers) await sql.unsafe(`alter table ${t.rel} enable trigger ${t.tgname}`);
    await step("vacuum analyze of the raw tables", async () => {
      const other = await seedingSession(adminUrl);
      await Promise.all([
        sql.unsafe(`vacuum (analyze) engagement_events`),
        other.unsafe(`vacuum (analyze) credentials, recipients, email_outbox, bulk_jobs, templates, template_versions, status_lists`).finally(() => other.end()),
      ]);
    });
    const seedSeconds = (performance.now() - started) / 1000;
    const raw: SeedInfo = { version: SEED_VERSION, credentials, events, seededAt: now.toISOString(), seedSeconds, rebuild: [] };
    await recordSeed(adminUrl, database, tenants, raw);
    log(`seed: raw rows in ${seedSeconds.toFixed(0)}s`);
    const info = await rebuildMissing(adminUrl, database, tenants, raw, rebuildTenants, log);
    log(`seed: done in ${((performance.now() - started) / 1000).toFixed(0)}s`);
    return { adminUrl, tenants, reused: false, info };
  } finally {
    await sql.end();
  }
}

/** The seed's own record, where the next run finds it: the database's comment. */
async function recordSeed(adminUrl: string, database: string, tenants: SeededTenant[], info: SeedInfo): Promise<void> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`comment on database "${database}" is '${JSON.stringify({ ...info, tenants }).replaceAll("'", "''")}'`);
  } finally {
    await sql.end();
  }
}

/** Runs the rebuild command for the first `count` tenants not rebuilt yet, recording each as it ends. */
async function rebuildMissing(adminUrl: string, database: string, tenants: SeededTenant[], info: SeedInfo, count: number,
                              log: (line: string) => void): Promise<SeedInfo> {
  let current = info;
  for (const [i, tenant] of tenants.slice(0, count).entries()) {
    if (current.rebuild.some((r) => r.tenantId === tenant.id)) continue;
    // (A second tenant's rebuild once planned its joins as nested loops over stale statistics and ran for
    // an hour; rebuild_engagement_analytics() now runs with enable_nestloop off itself: sql/025.)
    log(`seed: tenant ${i + 1}: npm run analytics:rebuild -- --tenant ${tenant.id} (the command, run from source) ...`);
    const figures: RebuildFigures = await rebuildTenant(adminUrl, database, tenant.id);
    log(`seed: tenant ${i + 1}: analytics:rebuild: rebuild ${figures.seconds.toFixed(1)}s + compaction ${figures.compactSeconds.toFixed(1)}s ` +
        `(command ${figures.commandSeconds.toFixed(1)}s), backend peak RSS ${figures.peakRssMb.toFixed(0)} MiB (private ${figures.peakAnonMb.toFixed(0)} MiB), ` +
        `temp files ${figures.tempMb.toFixed(0)} MiB\n      ${figures.output}`);
    const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
    try {
      await sql.unsafe(`vacuum (analyze) analytics_event_rollups, analytics_cohort_rollups, analytics_latency_rollups, analytics_delivery_rollups, analytics_credentials, analytics_first_touches`);
    } finally {
      await sql.end();
    }
    current = { ...current, rebuild: [...current.rebuild, figures] };
    await recordSeed(adminUrl, database, tenants, current);
  }
  return current;
}

/** The seed's record if the database holds what it says (same generator, expected row counts). */
async function checkSeed(adminUrl: string, credentials: number, events: number): Promise<{ tenants: SeededTenant[]; info: SeedInfo } | null> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql`select shobj_description(d.oid, 'pg_database') as info from pg_database d where d.datname = current_database()`;
    if (!row?.info) return null;
    const recorded = JSON.parse(row.info as string) as SeedInfo & { tenants: SeededTenant[] };
    if (recorded.version !== SEED_VERSION || recorded.credentials !== credentials || recorded.events !== events) return null;
    for (const t of recorded.tenants) {
      const [c] = await sql`select count(*)::int as n from credentials where tenant_id = ${t.id}`;
      const [e] = await sql`select count(*)::int as n from engagement_events where tenant_id = ${t.id}`;
      // The benchmark's ingestion adds events to the first tenant: more than seeded is still this seed.
      if (c!.n !== credentials || e!.n < events) return null;
    }
    const { tenants, ...info } = recorded;
    return { tenants, info };
  } catch {
    return null;
  } finally {
    await sql.end();
  }
}

/** A session for writing raw rows: staging in temporary tables (no WAL), generous memory, no JIT
 *  (its compile time dwarfs these one-off statements), no memoized lateral subqueries (they would
 *  replay one credential's random draws for the next), foreign-key triggers skipped. */
async function seedingSession(adminUrl: string): Promise<postgres.Sql> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {}, connection: { application_name: "laurel-bench-seed" } });
  // temp_buffers must be set before the session touches a temporary table.
  await sql.unsafe(`set temp_buffers = '1GB'; set work_mem = '256MB'; set maintenance_work_mem = '1GB'; set synchronous_commit = off;
                    set timezone = 'UTC'; set jit = off; set enable_memoize = off; set session_replication_role = replica`);
  return sql;
}

type Step = <T>(label: string, work: () => Promise<T>) => Promise<T>;

async function seedTenant(sql: postgres.Sql, tenant: SeededTenant, o: { credentials: number; events: number; nowLit: string; step: Step }) {
  const T = `'${tenant.id}'::uuid`;
  const now = o.nowLit;
  const N = o.credentials;
  const R = Math.round(N * 0.7);
  const J = 150;
  const bulkTotal = Math.round(N * 0.4);
  const names = TEMPLATE_NAMES.map((n) => `'${n}'`).join(",");
  const tags = TAGS.map((n) => `'${n}'`).join(",");

  await o.step("templates, status lists, bulk jobs", () => sql.unsafe(`
    drop table if exists s_templates, s_recipients, s_jobs, s_creds;
    create temp table s_templates as
    select n, gen_random_uuid() as id, (case when n % 3 = 0 then 'CERTIFICATE' else 'BADGE' end)::template_kind as kind,
           (array[${names}])[n] as name,
           array(select (array[${tags}])[1 + (n * 3 + k * 5) % 8] from generate_series(0, n % 3) k) as tags,
           case when n % 4 = 1 then ${now} - interval '180 days' end as v2_at,
           0.6 + 0.7 * ((n * 7) % 20) / 19.0 as appeal
      from generate_series(1, 20) n;
    insert into templates (tenant_id, id, kind, status, current_version, created_at, updated_at, duplicate_policy)
    select ${T}, id, kind, 'ACTIVE', case when v2_at is null then 1 else 2 end, ${now} - interval '400 days', ${now} - interval '180 days', 'ALLOW'
      from s_templates;
    insert into template_versions (tenant_id, template_id, version, name, description, criteria_narrative, tags, created_at)
    select ${T}, id, 1, name, 'Awarded for completing ' || name || '.', 'Complete the ' || name || ' programme.', tags, ${now} - interval '400 days'
      from s_templates
    union all
    select ${T}, id, 2, name, 'Awarded for completing ' || name || ' (revised).', 'Complete the revised ' || name || ' programme.',
           array['revised'] || tags[2:], v2_at
      from s_templates where v2_at is not null;
    insert into status_lists (tenant_id, purpose, capacity, next_index, created_at)
    values (${T}, 'revocation', ${Math.max(131072, Math.ceil(N / 131072) * 131072)}, ${N}, ${now} - interval '400 days'),
           (${T}, 'suspension', ${Math.max(131072, Math.ceil(N / 131072) * 131072)}, ${N}, ${now} - interval '400 days');
    create temp table s_jobs as
    with w as (
      select j, gen_random_uuid() as id, 1 + floor(20 * random() ^ 1.5)::int as tpl, exp(random() * 3) as w,
             ${now} - interval '1 day' - interval '363 days' * random() ^ 1.2 as started
        from generate_series(1, ${J}) j)
    select w.j, w.id, w.tpl, t.id as template_id, w.started, greatest(1, round(${bulkTotal} * w.w / sum(w.w) over ()))::int as size
      from w join s_templates t on t.n = w.tpl;
    insert into bulk_jobs (tenant_id, id, template_id, source, status, total_rows, issued_count, failed_count, created_by_kind, created_by_id,
                           created_at, started_at, finished_at)
    select ${T}, id, template_id, 'CSV', 'COMPLETED', size, size, 0, 'user', '${tenant.ownerUserId}', started - interval '2 minutes', started,
           started + interval '6 hours'
      from s_jobs;`));

  await o.step(`${R.toLocaleString()} recipients`, () => sql.unsafe(`
    create temp table s_recipients as
    select n, gen_random_uuid() as id, 'recipient' || n || '@' || (array['example.com', 'example.org', 'mail.example.net', 'corp.example'])[1 + n % 4] as email,
           case when l < 0.45 then 'en' when l < 0.60 then 'de' when l < 0.72 then 'fr' when l < 0.84 then 'es' when l < 0.92 then 'pt-BR' else 'ja' end as locale,
           random() < 0.85 as consent, random() < 0.005 as restricted
      from (select n, random() as l from generate_series(1, ${R}) n) x;
    alter table s_recipients add primary key (n);
    insert into recipients (tenant_id, id, email, name, locale, tracking_consent, restricted_at, created_at, updated_at)
    select ${T}, id, email, 'Recipient ' || n, locale, consent, case when restricted then ${now} - interval '20 days' end,
           ${now} - interval '400 days', ${now} - interval '400 days'
      from s_recipients order by n;`));

  // Each credential's story, decided up front: its email's outcome, how far its recipient went
  // (level 0 nothing, 1 opened, 2 viewed, 3 engaged, 4 claimed, 5 verified; a template's appeal moves
  // the odds), and how many events it gets, scaled so the tenant has exactly the events asked for.
  await o.step(`${N.toLocaleString()} credential stories (staging)`, () => sql.unsafe(`
    create temp table s_creds as
    with raw as (
      select j.id as bulk_job_id, j.tpl, j.started + interval '6 hours' * random() ^ 2 as issued_at
        from s_jobs j cross join lateral generate_series(1, j.size) g
      union all
      select null::uuid, 1 + floor(20 * random() ^ 1.8)::int, ${now} - interval '1 minute' - interval '365 days' * random() ^ 1.3
        from generate_series(1, ${N} - (select sum(size) from s_jobs)) g
    ),
    drawn as (
      select r.*, 1 + floor(${R} * random())::int as rn, random() as u_status, random() as u_mail, random() as u_from, random() as u_level, random() as u_n
        from (select * from raw limit ${N}) r
    ),
    told as (
      select d.*, t.id as template_id, t.name as template_name, case when t.v2_at is not null and d.issued_at >= t.v2_at then 2 else 1 end as version, t.appeal,
             case when d.issued_at > ${now} - interval '5 minutes' then 'queued'
                  when d.u_mail < 0.015 then 'failed' when d.u_mail < 0.045 then 'bounced' when d.u_mail < 0.048 then 'complained'
                  when d.u_mail < 0.055 then 'sent' else 'delivered' end::email_status as mail
        from drawn d join s_templates t on t.n = d.tpl
    ),
    leveled as (
      select x.*, case when x.mail in ('delivered', 'complained') then
                    case when x.u_level < 0.05 * x.appeal then 5 when x.u_level < 0.10 * x.appeal then 4 when x.u_level < 0.20 * x.appeal then 3
                         when x.u_level < 0.45 * x.appeal then 2 when x.u_level < 0.65 * x.appeal then 1 else 0 end
                  else case when x.u_level < 0.15 then 2 else 0 end end as level
        from told x
    ),
    counted as (
      select l.*, (case l.level when 0 then (l.u_n < 0.35)::int when 1 then 2 + floor(l.u_n * 3) when 2 then 4 + floor(l.u_n * 8)
                                when 3 then 10 + floor(l.u_n * 15) when 4 then 12 + floor(l.u_n * 18) else 15 + floor(l.u_n * 20) end)::bigint as nb
        from leveled l
    ),
    cum as (
      select c.*, row_number() over (order by c.issued_at) as k, sum(c.nb) over (order by c.issued_at rows unbounded preceding) as upto,
             sum(c.nb) over () as total
        from counted c
    )
    select c.k, gen_random_uuid() as id, gen_random_uuid() as message_id, c.bulk_job_id, c.template_id, c.template_name, c.version,
           c.issued_at, c.rn, r.id as recipient_id, r.email, r.locale, (r.consent and not r.restricted) as personal,
           case when c.u_status < 0.02 then 'REVOKED' when c.u_status < 0.03 then 'SUSPENDED' else 'ACTIVE' end::credential_status as status,
           c.mail, c.mail in ('delivered', 'complained') as delivered,
           case when c.u_from < 0.7 then 'badges@mail.${tenant.slug}.example' else 'noreply@notify.laurel-bench.example' end as from_address,
           c.level,
           (floor(c.upto::numeric * ${o.events} / c.total) - floor((c.upto - c.nb)::numeric * ${o.events} / c.total))::int as n
      from cum c join s_recipients r on r.n = c.rn;`));

  await o.step(`${N.toLocaleString()} credentials`, () => sql.unsafe(`
    insert into credentials (tenant_id, id, template_id, template_version, recipient_id, status, status_list_id, status_index,
                             suspension_list_id, suspension_index, issued_at, valid_from, document, revoked_at, revocation_reason,
                             suspended_at, created_at, bulk_job_id, unique_award)
    select ${T}, c.id, c.template_id, c.version, c.recipient_id, c.status,
           (select id from status_lists where tenant_id = ${T} and purpose = 'revocation'), c.k - 1,
           (select id from status_lists where tenant_id = ${T} and purpose = 'suspension'), c.k - 1,
           c.issued_at, c.issued_at,
           json_build_object('@context', json_build_array('https://www.w3.org/ns/credentials/v2', 'https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json'),
                             'id', 'urn:uuid:' || c.id, 'type', json_build_array('VerifiableCredential', 'OpenBadgeCredential'),
                             'validFrom', c.issued_at, 'credentialSubject', json_build_object('type', json_build_array('AchievementSubject'),
                             'achievement', json_build_object('type', json_build_array('Achievement'), 'name', c.template_name))),
           case when c.status = 'REVOKED' then c.issued_at + interval '30 days' end,
           case when c.status = 'REVOKED' then 'Issued in error' end,
           case when c.status = 'SUSPENDED' then c.issued_at + interval '20 days' end,
           c.issued_at, c.bulk_job_id, false
      from s_creds c order by c.k;`));

  await o.step(`${N.toLocaleString()} credential emails`, () => sql.unsafe(`
    insert into email_outbox (tenant_id, id, kind, to_email, locale, payload, idempotency_key, status, attempts, created_at, sent_at,
                              credential_id, recipient_id, provider, provider_message_id, from_address, subject, delivered_at,
                              bounced_at, complained_at, status_detail, updated_at)
    select ${T}, c.message_id, 'credential_issued', c.email, c.locale,
           jsonb_build_object('credentialId', c.id, 'name', c.template_name), 'credential_issued:' || c.id, c.mail,
           case when c.mail = 'queued' then 0 else 1 end, c.issued_at,
           case when c.mail not in ('queued', 'failed') then c.issued_at + interval '4 seconds' end,
           c.id, c.recipient_id, case when c.mail <> 'queued' then 'resend' end,
           case when c.mail not in ('queued', 'failed') then 'bench-' || c.message_id end,
           case when c.mail <> 'queued' then c.from_address end, 'Your ' || c.template_name || ' credential',
           case when c.delivered then c.issued_at + interval '9 seconds' end,
           case when c.mail = 'bounced' then c.issued_at + interval '12 seconds' end,
           case when c.mail = 'complained' then c.issued_at + interval '2 days' end,
           case when c.mail = 'failed' then 'The recipient address was rejected.' when c.mail = 'bounced' then 'Mailbox does not exist.' end,
           c.issued_at + interval '9 seconds'
      from s_creds c order by c.k;`));

  // Events: people's by the credential's level (stage weights: opened 30, clicked 12, viewed 30,
  // shared 6, LinkedIn 5, downloaded 6, claimed 3, verified 4, each level admitting the next types);
  // machines' (8% of a person's credential's events, all of a level-0 one's) are mail-proxy opens,
  // link-scanner clicks, bot views, verifications and JSON downloads. Delays from issue are
  // exponential with a per-type mean (minutes for proxies and scanners, hours for opens, days for
  // views and shares, a month for verifications), one in ten 15 times longer; an event that would be
  // in the future lands uniformly between issue and now.
  await o.step(`${o.events.toLocaleString()} engagement events`, () => sql.unsafe(`
    insert into engagement_events (tenant_id, id, occurred_at, type, template_id, credential_id, recipient_id, message_id, channel, network,
                                   format, ua_class, ip_hash, machine)
    select ${T},
           -- a version-7 id of the moment it happened, as record_engagement_events' default gives at that moment
           (lpad(to_hex((date_part('epoch', e.at) * 1000)::bigint), 12, '0') || '7' || lpad(to_hex((random() * 4095)::int), 3, '0')
            || to_hex(8 + (random() * 3)::int) || lpad(to_hex((random() * 2147483647)::int), 8, '0') || lpad(to_hex((random() * 268435455)::int), 7, '0'))::uuid,
           case when e.personal then e.at else date_trunc('hour', e.at) end, e.type, e.template_id,
           case when e.personal then e.credential_id end, case when e.personal then e.recipient_id end,
           case when e.personal and (e.channel = 'email' or e.type = 'claimed') then e.message_id end,
           e.channel, e.network, e.format, e.ua_class,
           case when e.personal then to_hex(hashint8extended(e.rn::bigint * 1000003 + floor(date_part('epoch', e.at) / 86400)::bigint, 7)) end,
           e.machine
      from (
        select b.*, case when b.issued_at + b.delay <= ${now} then b.issued_at + b.delay
                         else b.issued_at + (${now} - b.issued_at) * b.r_d end as at
          from (
            select a.*,
                   case when a.type = 'shared' then (array['linkedin', 'linkedin', 'x', 'facebook', 'email', 'copy'])[1 + floor(a.r_x * 6)::int]
                        when a.type = 'linkedin_added' then 'linkedin' end as network,
                   case when a.type = 'downloaded' then case when a.machine or a.r_x >= 0.75 then 'json' when a.r_x < 0.4 then 'pdf'
                                                            when a.r_x < 0.65 then 'png' else 'svg' end end as format,
                   case a.type when 'email_opened' then 'email' when 'link_clicked' then 'email' when 'page_viewed' then 'web'
                               when 'shared' then case when a.r_x < 2 / 6.0 then 'linkedin' else 'social' end
                               when 'linkedin_added' then case when a.r_x < 0.6 then 'linkedin' else 'email' end
                               when 'downloaded' then case when a.machine or a.r_x >= 0.875 then 'api' else 'web' end
                               when 'claimed' then 'web' else 'verifier' end as channel,
                   case when a.machine then case a.type when 'email_opened' then 'mail_proxy' when 'link_clicked' then 'link_scanner' else 'bot' end
                        when a.type = 'verified' then case when a.r_ua < 0.85 then 'desktop' else 'unknown' end
                        when a.r_ua < 0.50 then 'desktop' when a.r_ua < 0.88 then 'mobile' when a.r_ua < 0.96 then 'tablet' else 'unknown' end as ua_class,
                   make_interval(secs => -ln(1 - a.r_d) * (case when a.r_t < 0.1 then 15 else 1 end) *
                     case when a.machine then case a.type when 'email_opened' then 300 when 'link_clicked' then 20 else 864000 end
                          else case a.type when 'email_opened' then 28800 when 'link_clicked' then 43200 when 'page_viewed' then 129600
                                           when 'shared' then 259200 when 'linkedin_added' then 259200 when 'downloaded' then 345600
                                           when 'claimed' then 172800 else 2592000 end end) as delay
              from (
                select c.id as credential_id, c.recipient_id, c.message_id, c.template_id, c.issued_at, c.personal, c.rn, g.*,
                       g.machine_draw as machine,
                       (case when g.machine_draw then
                               case when not c.delivered then case when g.r_type < 0.8 then 'page_viewed' else 'verified' end
                                    when g.r_type < 0.55 then 'email_opened' when g.r_type < 0.75 then 'link_clicked' when g.r_type < 0.90 then 'page_viewed'
                                    when g.r_type < 0.95 then 'verified' else 'downloaded' end
                             else
                               case when g.w < 30 then 'email_opened' when g.w < 42 then 'link_clicked' when g.w < 72 then 'page_viewed'
                                    when g.w < 78 then 'shared' when g.w < 83 then 'linkedin_added' when g.w < 89 then 'downloaded'
                                    when g.w < 92 then 'claimed' else 'verified' end
                        end)::engagement_type as type
                  from s_creds c
                  cross join lateral (
                    select r_type, r_d, r_t, r_x, r_ua, c.level = 0 or r_m < 0.08 as machine_draw,
                           (case when c.delivered then 0 else 42 end)
                           + r_type * ((case c.level when 0 then 42 when 1 then 42 when 2 then 72 when 3 then 89 when 4 then 92 else 96 end)
                                       - (case when c.delivered then 0 else 42 end)) as w
                      from (select random() as r_type, random() as r_d, random() as r_t, random() as r_x, random() as r_ua, random() as r_m
                              from generate_series(1, c.n)) r
                  ) g
                 where c.n > 0
              ) a
          ) b
      ) e;`));
  await sql.unsafe(`drop table s_templates, s_recipients, s_jobs, s_creds`);
}

/**
 * The rebuild command itself (src/modules/analytics/rebuild-cli.ts, run from source: `npm run
 * analytics:rebuild -- --tenant <id>` runs its build), watched from outside: its backend (found by the
 * command's application_name) is sampled every 100 ms, /proc for memory (PostgreSQL runs on this
 * machine) and pg_stat_activity for when the rebuild statement gives way to the compaction.
 */
async function rebuildTenant(adminUrl: string, database: string, tenantId: string): Promise<RebuildFigures> {
  const watch = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const tempBytes = async () => Number((await watch`select temp_bytes from pg_stat_database where datname = ${database}`)[0]!.temp_bytes);
    const tempBefore = await tempBytes();
    const started = Date.now();
    const command = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("../../src/modules/analytics/rebuild-cli.ts", import.meta.url)), "--tenant", tenantId], {
      env: { ...process.env, ...TEST_ENV, DATABASE_URL: adminUrl },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let output = "";
    command.stdout.on("data", (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((resolve) => command.on("exit", resolve));
    let done = false;
    void exited.then(() => (done = true));
    let pid = 0;
    let rebuildAt = 0;
    let compactAt = 0;
    let peakAnon = 0;
    let peakHwm = 0;
    while (!done) {
      const [row] = await watch`select pid, query, extract(epoch from query_start) * 1000 as at from pg_stat_activity
                                 where datname = ${database} and application_name = 'laurel-owner' and backend_type = 'client backend'`;
      if (row) {
        pid = row.pid as number;
        const q = row.query as string;
        if (q.includes("rebuild_engagement_analytics") && !rebuildAt) rebuildAt = Number(row.at);
        if (q.includes("compact_engagement_analytics") && !compactAt) compactAt = Number(row.at);
        const text = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
        const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0);
        peakAnon = Math.max(peakAnon, kb("RssAnon"));
        peakHwm = Math.max(peakHwm, kb("VmHWM"));
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 100))]);
    }
    const ended = Date.now();
    if ((await exited) !== 0) throw new Error(`analytics:rebuild failed: ${output}`);
    await new Promise((r) => setTimeout(r, 1000)); // temp-file statistics arrive when the session reports them
    const tempAfter = await tempBytes();
    const counts = Object.fromEntries([...output.matchAll(/([\d,]+) (credentials|first touches|event|cohort|latency|delivery)\b/g)].map((m) => [m[2]!, Number(m[1]!.replaceAll(",", ""))]));
    const rebuildStart = rebuildAt || started;
    const compactStart = compactAt || ended;
    return {
      tenantId, seconds: (compactStart - rebuildStart) / 1000, compactSeconds: (ended - compactStart) / 1000, commandSeconds: (ended - started) / 1000,
      peakRssMb: peakHwm / 1024, peakAnonMb: peakAnon / 1024, tempMb: (tempAfter - tempBefore) / 1048576, counts, output: output.trim(),
    };
  } finally {
    await watch.end();
  }
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await seedAnalytics({
    serverUrl: process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
    reseed: process.argv.includes("--reseed"),
    database: argValue("--database"),
    credentials: argValue("--credentials") ? Number(argValue("--credentials")) : undefined,
    events: argValue("--events") ? Number(argValue("--events")) : undefined,
    rebuildTenants: argValue("--rebuild-tenants") ? Number(argValue("--rebuild-tenants")) : undefined,
  });
}
