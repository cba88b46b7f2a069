// Shared arrangements for the analytics tests: a seeded world of credentials, events, status changes
// and email outcomes put in through the real paths (SDK, record_engagement_events, apply_email_event),
// and for each measure a straightforward SQL over the raw rows (the contract's definitions, written
// independently of sql/021) next to the same measure read from the rollups through analytics_cover().
import { randomUUID } from "node:crypto";
import { DateTime } from "luxon";
import postgres from "postgres";
import {
  ActivateTemplateDocument,
  BulkJobDocument,
  CreateBulkIssuanceDocument,
  CreateTemplateDocument,
  IssueCredentialDocument,
  ResendCredentialEmailDocument,
  RevokeCredentialDocument,
  SuspendCredentialDocument,
  UnsuspendCredentialDocument,
  UpdateRecipientPrivacyDocument,
  type BulkRowInput,
} from "../../src/sdk/generated.js";
import type { LaurelClient } from "../../src/sdk/index.js";
import type { TestApp } from "../helpers/app.js";
import { signUpTenant, uniqueEmail, type TestTenant } from "../helpers/factories.js";
import { startTestWorker } from "../helpers/worker.js";
import { keysOf, openedDocument, openedRecipients } from "../helpers/sealed.js";
import { sealDocument } from "../../src/modules/credentials/sealed-document.js";
import { sealField, sealNewMessage } from "../../src/modules/delivery/sealed-outbox.js";

export const ZERO = "00000000-0000-0000-0000-000000000000";
export const TYPES = ["email_opened", "link_clicked", "page_viewed", "shared", "linkedin_added", "downloaded", "verified", "claimed"] as const;
export const CHANNELS = ["email", "web", "api", "linkedin", "social", "verifier"] as const;
export const UA_CLASSES = ["desktop", "mobile", "tablet", "bot", "mail_proxy", "link_scanner", "unknown"] as const;
export const FORMATS = ["json", "png", "svg", "pdf"] as const;
export const NETWORKS = ["linkedin", "x", "facebook", "mastodon", "whatsapp"] as const;
export const LOCALES = ["en", "fr", "pt-BR", "de", "ja"] as const;
export const STAGE_BITS = { ISSUED: 0, DELIVERED: 1, OPENED: 2, VIEWED: 4, ENGAGED: 8, CLAIMED: 16, VERIFIED: 32 } as const;
export type StageName = keyof typeof STAGE_BITS;

// ---------------------------------------------------------------------------------------------
// Seeded randomness: ANALYTICS_SEED=<n> replays a run; every failure message names the seed.

export class Rng {
  private state: number;
  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }
  /** mulberry32: uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.next() * list.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  sample<T>(list: readonly T[], n: number): T[] {
    const copy = [...list];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [copy[i], copy[j]] = [copy[j]!, copy[i]!];
    }
    return copy.slice(0, n);
  }
}

export function seededRng(): Rng {
  const fromEnv = process.env.ANALYTICS_SEED;
  const seed = fromEnv ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 31);
  console.log(`analytics seed ${seed} (replay with ANALYTICS_SEED=${seed})`);
  return new Rng(seed);
}

// ---------------------------------------------------------------------------------------------
// Time: 15-minute aligned instants and ranges.

export const SLOT_MS = 15 * 60_000;
export const floorSlot = (ms: number) => Math.floor(ms / SLOT_MS) * SLOT_MS;
export type Range = { from: Date; to: Date };
export const iso = (d: Date) => d.toISOString();
export const describeRange = (r: Range) => `[${iso(r.from)}, ${iso(r.to)})`;

/**
 * Random 15-minute aligned ranges where the data is: inside the last day and a half (events, emails),
 * across the last 14 months (issue dates), and spanning both, so every piece of analytics_cover()
 * (months, days, slots on either side) gets used.
 */
export function randomRanges(rng: Rng, n: number, now = Date.now()): Range[] {
  const out: Range[] = [];
  const end = floorSlot(now) + 4 * SLOT_MS;
  for (let i = 0; i < n; i++) {
    const kind = i % 3;
    let lo: number;
    let hi: number;
    if (kind === 0) {
      lo = end - rng.int(1, 36 * 4) * SLOT_MS;
      hi = lo + rng.int(1, 30 * 4) * SLOT_MS;
    } else if (kind === 1) {
      lo = end - rng.int(2 * 96, 430 * 96) * SLOT_MS;
      hi = lo + rng.int(1, 200 * 96) * SLOT_MS;
    } else {
      lo = end - rng.int(2 * 96, 430 * 96) * SLOT_MS;
      hi = end - rng.int(0, 20 * 4) * SLOT_MS;
    }
    if (hi <= lo) hi = lo + SLOT_MS;
    out.push({ from: new Date(lo), to: new Date(hi) });
  }
  return out;
}

/** Everything, whatever the data: a range no issue date, event or email falls outside. */
export const EVERYTHING: Range = { from: new Date("1900-01-01T00:00:00Z"), to: new Date("2100-01-01T00:00:00Z") };

// ---------------------------------------------------------------------------------------------
// The world.

export type Sql = postgres.Sql | postgres.TransactionSql;

export interface Cred {
  id: string;
  nodeId: string;
  tenantId: string;
  templateId: string;
  recipientId: string;
  recipientNodeId: string;
  issuedAt: Date;
}

export interface WorldTenant extends TestTenant {
  templates: { id: string; nodeId: string; name: string; tags: string[] }[];
  bulkJobs: { id: string; nodeId: string }[];
  credentials: Cred[];
}

export interface World {
  a: WorldTenant;
  b: WorldTenant;
  rng: Rng;
  /** Events handed to record_engagement_events, all batches. */
  sent: number;
}

export const rawId = (globalId: string) => Buffer.from(globalId, "base64").toString().split(":")[1]!;
export const globalId = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString("base64");

async function activeTemplate(client: LaurelClient, name: string, tags: string[]): Promise<{ id: string; nodeId: string; name: string; tags: string[] }> {
  const created = await client.request(CreateTemplateDocument, {
    kind: "BADGE",
    content: { name, description: `${name}: analytics.`, credentialDescription: "Awarded to {{recipientName}}.", criteriaNarrative: "Do it.", tags },
  });
  if (created.createTemplate.__typename !== "Template") throw new Error(`template: ${JSON.stringify(created.createTemplate)}`);
  const activated = await client.request(ActivateTemplateDocument, { id: created.createTemplate.id });
  if (activated.activateTemplate.__typename !== "Template") throw new Error(`activate: ${JSON.stringify(activated.activateTemplate)}`);
  return { id: rawId(created.createTemplate.id), nodeId: created.createTemplate.id, name, tags };
}

async function issueOne(app: TestApp, tenant: WorldTenant, template: { nodeId: string; id: string }, issuedAt: Date | null, locale: string, email = uniqueEmail("rcpt")): Promise<Cred> {
  const res = await tenant.owner.request(IssueCredentialDocument, {
    input: { templateId: template.nodeId, ...(issuedAt ? { issuedAt: issuedAt.toISOString() } : {}), recipient: { email, name: "Rae Recipient", locale } },
  });
  if (res.issueCredential.__typename !== "Credential") throw new Error(`issue: ${JSON.stringify(res.issueCredential)}`);
  const id = rawId(res.issueCredential.id);
  const [row] = await app.db.admin<{ recipient_id: string; issued_at: Date }[]>`select recipient_id, issued_at from credentials where id = ${id}`;
  return {
    id,
    nodeId: res.issueCredential.id,
    tenantId: tenant.tenantId,
    templateId: template.id,
    recipientId: row!.recipient_id,
    recipientNodeId: res.issueCredential.recipient!.id,
    issuedAt: row!.issued_at,
  };
}

async function waitForJob(client: LaurelClient, nodeId: string, timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { node } = await client.request(BulkJobDocument, { id: nodeId });
    if (node && "status" in node && (node.status === "COMPLETED" || node.status === "FAILED")) return node;
    if (Date.now() > until) throw new Error(`bulk job ${nodeId} did not finish`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A random issue date: now, hours ago, days to 13 months ago, or (rarely) in the coming months. */
function randomIssuedAt(rng: Rng, now: number): Date | null {
  const r = rng.next();
  if (r < 0.2) return null;
  if (r < 0.45) return new Date(now - rng.int(60, 30 * 3600) * 1000);
  if (r < 0.95) return new Date(now - rng.int(2 * 86400, 400 * 86400) * 1000 - rng.int(0, 86399) * 1000);
  return new Date(now + rng.int(3600, 60 * 86400) * 1000);
}

async function inChunks<T, R>(items: T[], size: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(work))));
  return out;
}

async function makeTenant(app: TestApp, name: string): Promise<WorldTenant> {
  const t = await signUpTenant(app, name);
  return { ...t, templates: [], bulkJobs: [], credentials: [] };
}

/** Inserts `n` credentials created in the past 13 months (copies of the tenant's own, fresh status slots), each with a queued credential email. */
async function importHistory(app: TestApp, tenant: WorldTenant, rng: Rng, n: number) {
  const now = Date.now();
  const sources = Array.from({ length: n }, () => rng.pick(tenant.credentials).id);
  const ats = sources.map(() => new Date(now - rng.int(3 * 86400, 400 * 86400) * 1000 - rng.int(0, 899) * 1000));
  // Documents and addresses are sealed bound to their row (sql/044, 047, 048): each copy is opened and
  // sealed again under its own id, as the app would have written it.
  const keys = await keysOf(app, tenant.tenantId);
  const people = new Map((await openedRecipients(app, tenant.tenantId)).map((r) => [r.id, r]));
  const rows: { id: string; template_id: string; recipient_id: string; issued_at: Date }[] = [];
  for (const [i, src] of sources.entries()) {
    const id = randomUUID();
    const document = await openedDocument(app, src);
    const sealed = sealDocument(keys, "credentials", id, document ?? {});
    const [row] = await app.db.admin<{ id: string; template_id: string; recipient_id: string; issued_at: Date }[]>`
      insert into credentials (tenant_id, id, template_id, template_version, recipient_id, status, status_list_id, status_index,
                               suspension_list_id, suspension_index, issued_at, valid_from, key_version, document_sealed, bulk_job_id)
      select c.tenant_id, ${id}, c.template_id, c.template_version, c.recipient_id, 'ACTIVE', c.status_list_id, ${900001 + i},
             c.suspension_list_id, ${900001 + i}, ${ats[i]!}, ${ats[i]!}, ${sealed.keyVersion}, ${sealed.documentSealed}, c.bulk_job_id
        from credentials c where c.tenant_id = ${tenant.tenantId} and c.id = ${src}
      returning id, template_id, recipient_id, issued_at`;
    rows.push(row!);
    const [{ id: messageId }] = await app.db.admin<[{ id: string }]>`select uuid_v7() as id`; // time-ordered, as the outbox's default
    const person = people.get(row!.recipient_id)!;
    const message = sealNewMessage(keys, messageId, { toEmail: person.email, payload: {}, content: null });
    await app.db.admin`
      insert into email_outbox (tenant_id, id, kind, key_version, to_email_sealed, to_email_index, payload_sealed, subject_sealed, locale,
                                idempotency_key, credential_id, recipient_id, created_at, from_address)
      values (${tenant.tenantId}, ${messageId}, 'credential_issued', ${message.keyVersion}, ${message.toEmail}, ${message.toEmailIndex}, ${message.payload},
              ${sealField(keys, messageId, "subject", "Your badge")}, ${person.locale}, ${"history:" + id}, ${id}, ${row!.recipient_id},
              ${row!.issued_at}::timestamptz + make_interval(secs => (hashtext(${id}::text) & 1023)), '"Imported" <credentials@laurel.example>')`;
  }
  for (const r of rows) {
    tenant.credentials.push({ id: r.id, nodeId: globalId("Credential", r.id), tenantId: tenant.tenantId, templateId: r.template_id, recipientId: r.recipient_id, recipientNodeId: globalId("Recipient", r.recipient_id), issuedAt: r.issued_at });
  }
}

type EventIn = {
  tenant_id: string;
  credential_id: string;
  message_id?: string | null;
  type: string;
  channel: string;
  network?: string | null;
  format?: string | null;
  ua_class: string;
  machine: boolean;
  occurred_at?: string;
};

/**
 * Builds tenant A (3 templates, ~40 credentials: single issues and two bulk jobs, past, recent and
 * future issue dates, 5 locales) and a small tenant B, then: consent withdrawn, restricted and given
 * back between batches; late events, exact duplicates (across and within batches), concurrent flushes
 * on separate connections mixing both tenants, machine traffic, every type, channel, network, format
 * and device class; revocations, suspensions and an unsuspension through the API; email outcomes
 * through apply_email_event() (delivered, bounced, complained, failed, repeated and out-of-order events)
 * and resent credential emails.
 */
export async function buildWorld(app: TestApp, rng: Rng): Promise<World> {
  const now = Date.now();
  const [a, b] = await Promise.all([makeTenant(app, "Analytics Academy"), makeTenant(app, "Other Analytics")]);
  a.templates = [await activeTemplate(a.owner, "Alpha Badge", ["stem"]), await activeTemplate(a.owner, "Beta Badge", ["stem", "arts"]), await activeTemplate(a.owner, "Gamma Badge", [])];
  b.templates = [await activeTemplate(b.owner, "Other Badge", ["stem"])];

  // Single issues before the worker runs (their emails stay queued: pending), shared recipients on
  // another template (same locale), and B's few credentials.
  const singles = Array.from({ length: 12 }, () => ({ template: rng.pick(a.templates), at: randomIssuedAt(rng, now), locale: rng.pick(LOCALES) }));
  a.credentials.push(...(await inChunks(singles, 4, (s) => issueOne(app, a, s.template, s.at, s.locale))));
  b.credentials.push(...(await inChunks([0, 1, 2, 3, 4], 5, () => issueOne(app, b, b.templates[0]!, randomIssuedAt(rng, now), rng.pick(LOCALES)))));

  // Two bulk jobs, run by the real worker; it also stores the queued emails (demo outbox).
  const worker = await startTestWorker(app);
  try {
    for (const [template, n] of [[a.templates[1]!, 12], [a.templates[2]!, 9]] as const) {
      const rows: BulkRowInput[] = Array.from({ length: n }, () => {
        const at = randomIssuedAt(rng, now);
        return { email: uniqueEmail("bulk"), name: "Bo Bulk", locale: rng.pick(LOCALES), ...(at && at.getTime() < now ? { issuedAt: at.toISOString() } : {}) };
      });
      const created = await a.owner.request(CreateBulkIssuanceDocument, { input: { templateId: template.nodeId, rows } });
      if (created.createBulkIssuance.__typename !== "BulkJob") throw new Error(`bulk: ${JSON.stringify(created.createBulkIssuance)}`);
      const job = await waitForJob(a.owner, created.createBulkIssuance.id);
      if (!("issuedCount" in job) || job.issuedCount !== n) throw new Error(`bulk job issued ${JSON.stringify(job)}`);
      a.bulkJobs.push({ id: rawId(created.createBulkIssuance.id), nodeId: created.createBulkIssuance.id });
    }
  } finally {
    await worker.stop();
  }
  const bulkRows = await app.db.admin<{ id: string; template_id: string; recipient_id: string; issued_at: Date }[]>`
    select id, template_id, recipient_id, issued_at from credentials where tenant_id = ${a.tenantId} and bulk_job_id is not null order by id`;
  for (const r of bulkRows) {
    a.credentials.push({ id: r.id, nodeId: globalId("Credential", r.id), tenantId: a.tenantId, templateId: r.template_id, recipientId: r.recipient_id, recipientNodeId: globalId("Recipient", r.recipient_id), issuedAt: r.issued_at });
  }
  // After the worker: these emails stay queued. One recipient holds two credentials (another template).
  const late = Array.from({ length: 6 }, () => ({ template: rng.pick(a.templates), at: randomIssuedAt(rng, now), locale: rng.pick(LOCALES) }));
  a.credentials.push(...(await inChunks(late, 3, (s) => issueOne(app, a, s.template, s.at, s.locale))));
  const twice = a.credentials[0]!;
  const twiceRecipient = (await openedRecipients(app, a.tenantId)).find((r) => r.id === twice.recipientId);
  const other = a.templates.find((t) => t.id !== twice.templateId)!;
  a.credentials.push(await issueOne(app, a, other, null, twiceRecipient!.locale, twiceRecipient!.email));

  // History, as an import or the benchmark's seed makes it: credentials (and their queued emails)
  // created over the last 13 months, copied from real ones (issued_at is when a row was created, so
  // no API call can make an old one).
  await importHistory(app, a, rng, 30);
  await importHistory(app, b, rng, 4);

  const world: World = { a, b, rng, sent: 0 };
  const all = [...a.credentials, ...b.credentials];
  const messages = await app.db.admin<{ id: string; credential_id: string }[]>`
    select id, credential_id from email_outbox where credential_id is not null and tenant_id in ${app.db.admin([a.tenantId, b.tenantId])} order by id`;
  const messageOf = new Map(messages.map((m) => [m.credential_id, m.id]));

  const event = (c: Cred, at: number | null, overrides: Partial<EventIn> = {}): EventIn => {
    const type = rng.pick(TYPES);
    const ua = rng.pick(UA_CLASSES);
    const machine = ua === "bot" || ua === "link_scanner" || ua === "mail_proxy" ? rng.chance(0.85) : rng.chance(0.08);
    return {
      tenant_id: c.tenantId,
      credential_id: c.id,
      message_id: (type === "email_opened" || type === "link_clicked") && rng.chance(0.7) ? (messageOf.get(c.id) ?? null) : null,
      type,
      channel: rng.pick(CHANNELS),
      network: type === "shared" || rng.chance(0.05) ? (rng.chance(0.85) ? rng.pick(NETWORKS) : null) : null,
      format: type === "downloaded" || rng.chance(0.05) ? (rng.chance(0.9) ? rng.pick(FORMATS) : null) : null,
      ua_class: ua,
      machine,
      ...(at === null ? {} : { occurred_at: new Date(at).toISOString() }),
      ...overrides,
    };
  };
  // Within the last day (record_engagement_events clamps to it), with a margin either side.
  const when = () => Date.now() - rng.int(60, 23 * 3600 + 1800) * 1000 - rng.int(0, 999);
  const randomBatch = (n: number, pool: Cred[]) => Array.from({ length: n }, () => event(rng.pick(pool), rng.chance(0.03) ? null : when()));

  const pg = postgres(app.db.adminUrl, { max: 6, onnotice: () => {} });
  const flush = async (batches: EventIn[][]) => {
    // Each batch on its own connection, all at once.
    const reserved = await Promise.all(batches.map(() => pg.reserve()));
    try {
      await Promise.all(batches.map((batch, i) => reserved[i]!`select record_engagement_events(${reserved[i]!.json(batch as never)})`));
    } finally {
      for (const r of reserved) r.release();
    }
    world.sent += batches.reduce((n, b) => n + b.length, 0);
  };
  try {
    // 1. A first batch, mixing both tenants.
    const first = randomBatch(150, all);
    await flush([first]);

    // 2. Consent withdrawn / processing restricted for some of A's recipients, through the API.
    const privacy = rng.sample(a.credentials, 6);
    for (const [i, c] of privacy.entries()) {
      const input = i < 4 ? { trackingConsent: false } : { restricted: true };
      const res = await a.owner.request(UpdateRecipientPrivacyDocument, { id: c.recipientNodeId, input });
      if (res.updateRecipientPrivacy.__typename !== "Recipient") throw new Error(`privacy: ${JSON.stringify(res.updateRecipientPrivacy)}`);
    }
    // 3. Status changes through the API.
    const moved = rng.sample(a.credentials, 8);
    for (const [i, c] of moved.entries()) {
      if (i < 3) await a.owner.request(RevokeCredentialDocument, { id: c.nodeId, input: { reason: "Issued in error" } });
      else await a.owner.request(SuspendCredentialDocument, { id: c.nodeId });
    }

    // 4. Late events (earlier than what is recorded), exact duplicates across and within a batch.
    const earliest = first.reduce((m, e) => Math.min(m, e.occurred_at ? Date.parse(e.occurred_at) : Infinity), Infinity);
    const lateBatch = Array.from({ length: 60 }, () => {
      const c = rng.pick(all);
      const at = Math.max(Date.now() - 23 * 3600_000 - 3000_000 + rng.int(0, 1800) * 1000, earliest - rng.int(1, 3600) * 1000);
      return event(c, at);
    });
    const dupes = rng.sample(first.filter((e) => e.occurred_at), 30);
    const within = rng.sample(lateBatch, 10);
    await flush([[...lateBatch, ...dupes, ...within]]);

    // 5. Concurrent flushes on separate connections, overlapping credentials, both tenants, including
    //    the recipients who withdrew consent; one burst shares first touches at the same instant.
    const hot = rng.sample(all, 8);
    const sameInstant = Date.now() - rng.int(3600, 20 * 3600) * 1000;
    await flush(
      Array.from({ length: 4 }, (_, k) => [
        ...randomBatch(60, all),
        ...privacy.map((c) => event(c, when())),
        ...hot.map((c) => event(c, sameInstant, { type: "page_viewed", machine: k % 2 === 1, ua_class: k % 2 === 1 ? "bot" : "desktop" })),
      ]),
    );

    // 6. One recipient gives consent back; one suspension is lifted; a few credential emails are resent.
    await a.owner.request(UpdateRecipientPrivacyDocument, { id: privacy[0]!.recipientNodeId, input: { trackingConsent: true } });
    await a.owner.request(UnsuspendCredentialDocument, { id: moved[3]!.nodeId });
    for (const c of rng.sample(a.credentials, 2)) await a.owner.request(ResendCredentialEmailDocument, { credentialId: c.nodeId });

    // 7. Email outcomes as the provider path makes them: sent by Resend (worker's update), then the
    //    provider's webhooks through apply_email_event(), some twice, some out of order.
    const outbox = await app.db.admin<{ id: string }[]>`
      select id from email_outbox where credential_id is not null and tenant_id in ${app.db.admin([a.tenantId, b.tenantId])} order by id`;
    const senders = ['"Academy" <credentials@alpha.example>', "Beta Team <no-reply@Beta.Example>", "ops@gamma.example"];
    for (const m of rng.sample(outbox, Math.ceil(outbox.length * 0.7))) {
      const providerId = `re_${randomUUID()}`;
      await app.db.admin`update email_outbox set status = 'sent', provider = 'resend', provider_message_id = ${providerId},
                                                sent_at = now(), from_address = ${rng.pick(senders)} where id = ${m.id}`;
      const outcome = rng.pick(["email.delivered", "email.delivered", "email.bounced", "email.complained", "email.failed", "email.delivery_delayed", "none"]);
      const steps = outcome === "none" ? [] : [outcome];
      if (outcome === "email.delivered" && rng.chance(0.3)) steps.push(rng.pick(["email.bounced", "email.complained", "email.sent"]));
      if (outcome === "email.complained" && rng.chance(0.5)) steps.push("email.delivered");
      if (rng.chance(0.3)) steps.push("email.opened");
      for (const step of steps) {
        const eventId = `evt_${randomUUID()}`;
        const times = rng.chance(0.2) ? 2 : 1;
        for (let k = 0; k < times; k++) {
          await app.db.admin`select * from apply_email_event(${eventId}, ${providerId}, ${step}, ${new Date()}, ${null})`;
        }
      }
    }

    // 8. More concurrent traffic: machine-heavy, late again, and for revoked/suspended credentials.
    await flush(
      Array.from({ length: 3 }, () => [
        ...randomBatch(50, all),
        ...Array.from({ length: 20 }, () => event(rng.pick(all), when(), { machine: true, ua_class: rng.pick(["bot", "link_scanner", "mail_proxy"]) })),
        ...moved.map((c) => event(c, when())),
      ]),
    );
  } finally {
    await pg.end();
  }
  return world;
}

// ---------------------------------------------------------------------------------------------
// Measures: key -> numbers. Raw ("truth") and rollup readers return the same shapes.

export type Measures = Map<string, number[]>;

const STAGE_CASE = `case e.type when 'email_opened' then 2 when 'link_clicked' then 2 when 'page_viewed' then 4
  when 'shared' then 8 when 'linkedin_added' then 8 when 'downloaded' then 8 when 'claimed' then 16 when 'verified' then 32 else 0 end`;

function toMap(rows: readonly Record<string, unknown>[], keys: string[], values: string[]): Measures {
  const m: Measures = new Map();
  for (const r of rows) {
    const v = values.map((k) => Number(r[k]));
    if (v.every((x) => x === 0)) continue;
    m.set(keys.map((k) => String(r[k])).join("|"), v);
  }
  return m;
}

/** Events per (dimension, value, type, template, machine): events, first_human, first_any, from raw rows. */
export async function truthEvents(sql: Sql, tenant: string, r: Range): Promise<Measures> {
  const rows = await sql.unsafe(
    `with ev as (
       select e.id, e.occurred_at, e.type::text as type, e.credential_id, e.machine,
              coalesce(e.template_id, '${ZERO}')::text as tpl, coalesce(c.bulk_job_id, '${ZERO}')::text as job,
              coalesce(rc.locale, '') as loc, e.channel, coalesce(e.network, '') as net, coalesce(e.format, '') as fmt, e.ua_class
         from engagement_events e
         left join credentials c on c.tenant_id = e.tenant_id and c.id = e.credential_id
         left join recipients rc on rc.tenant_id = c.tenant_id and rc.id = c.recipient_id
        where e.tenant_id = $1
     ),
     ranked as (
       select ev.*,
              (credential_id is not null and row_number() over (partition by credential_id, type order by occurred_at, id) = 1)::int as fa,
              (credential_id is not null and not machine
                 and row_number() over (partition by credential_id, type, machine order by occurred_at, id) = 1)::int as fh
         from ev
     )
     select d.dimension, d.value, x.type, d.tpl, x.machine, count(*) as events, sum(x.fh) as fh, sum(x.fa) as fa
       from ranked x
       -- '*' holds every event under the zero template; every other dimension keeps the event's template
       cross join lateral (values ('*', '', '${ZERO}'), ('t', x.tpl, x.tpl), ('j', x.job, x.tpl), ('c', x.channel, x.tpl), ('n', x.net, x.tpl),
                                  ('d', x.ua_class, x.tpl), ('f', x.fmt, x.tpl), ('l', x.loc, x.tpl)) d(dimension, value, tpl)
      where x.occurred_at >= $2 and x.occurred_at < $3
      group by 1, 2, 3, 4, 5`,
    [tenant, r.from, r.to] as never[],
  );
  return toMap(rows, ["dimension", "value", "type", "tpl", "machine"], ["events", "fh", "fa"]);
}

export async function rollupEvents(sql: Sql, tenant: string, r: Range): Promise<Measures> {
  const rows = await sql`
    select x.dimension, x.value, x.type::text as type, x.template_id::text as tpl, x.machine,
           sum(x.events) as events, sum(x.first_human) as fh, sum(x.first_any) as fa
      from analytics_cover(${tenant}, ${r.from}, ${r.to}) c
      join analytics_event_rollups x on x.tenant_id = ${tenant} and x.grain = c.grain and x.bucket >= c.lo and x.bucket < c.hi
     group by 1, 2, 3, 4, 5`;
  return toMap(rows, ["dimension", "value", "type", "tpl", "machine"], ["events", "fh", "fa"]);
}

/** All of one grain's event rows, whatever their bucket: each grain alone must give the totals. */
export async function rollupEventsOfGrain(sql: Sql, tenant: string, grain: "s" | "d" | "m"): Promise<Measures> {
  const rows = await sql`
    select x.dimension, x.value, x.type::text as type, x.template_id::text as tpl, x.machine,
           sum(x.events) as events, sum(x.first_human) as fh, sum(x.first_any) as fa
      from analytics_event_rollups x where x.tenant_id = ${tenant} and x.grain = ${grain}
     group by 1, 2, 3, 4, 5`;
  return toMap(rows, ["dimension", "value", "type", "tpl", "machine"], ["events", "fh", "fa"]);
}

/** Cohort: credentials issued in range by (template, bulk job, locale, status, human mask, any mask). */
export async function truthCohort(sql: Sql, tenant: string, r: Range): Promise<Measures> {
  const rows = await sql.unsafe(
    `with masks as (
       select e.credential_id, coalesce(bit_or(${STAGE_CASE}) filter (where not e.machine), 0) as h, bit_or(${STAGE_CASE}) as a
         from engagement_events e where e.tenant_id = $1 and e.credential_id is not null group by 1
     ),
     delivered as (
       select distinct o.credential_id from email_outbox o where o.tenant_id = $1 and o.credential_id is not null and (o.delivered_at is not null or o.complained_at is not null)
     )
     select c.template_id::text as tpl, coalesce(c.bulk_job_id, '${ZERO}')::text as job, rc.locale, c.status::text as status,
            (coalesce(m.h, 0) | (d.credential_id is not null)::int) as hm, (coalesce(m.a, 0) | (d.credential_id is not null)::int) as am,
            count(*) as n
       from credentials c
       join recipients rc on rc.tenant_id = c.tenant_id and rc.id = c.recipient_id
       left join masks m on m.credential_id = c.id
       left join delivered d on d.credential_id = c.id
      where c.tenant_id = $1 and c.issued_at >= $2 and c.issued_at < $3
      group by 1, 2, 3, 4, 5, 6`,
    [tenant, r.from, r.to] as never[],
  );
  return toMap(rows, ["tpl", "job", "locale", "status", "hm", "am"], ["n"]);
}

export async function rollupCohort(sql: Sql, tenant: string, r: Range): Promise<Measures> {
  const rows = await sql`
    select x.template_id::text as tpl, x.bulk_job_id::text as job, x.locale, x.status::text as status,
           x.human_mask as hm, x.any_mask as am, sum(x.credentials) as n
      from analytics_cover(${tenant}, ${r.from}, ${r.to}) c
      join analytics_cohort_rollups x on x.tenant_id = ${tenant} and x.grain = c.grain and x.bucket >= c.lo and x.bucket < c.hi
     group by 1, 2, 3, 4, 5, 6`;
  return toMap(rows, ["tpl", "job", "locale", "status", "hm", "am"], ["n"]);
}

/** Funnel stages (cumulative "reached at least", and direct) straight from raw rows, for one mask kind. */
export async function truthFunnel(sql: Sql, tenant: string, r: Range, includeMachine: boolean): Promise<Record<StageName, [number, number]>> {
  const cohort = await truthCohort(sql, tenant, r);
  return funnelFrom(cohort, includeMachine);
}

/** Stage counts from cohort measures (key ...|hm|am -> [n]). */
export function funnelFrom(cohort: Measures, includeMachine: boolean): Record<StageName, [number, number]> {
  const out = {} as Record<StageName, [number, number]>;
  for (const [stage, bit] of Object.entries(STAGE_BITS) as [StageName, number][]) {
    let cumulative = 0;
    let direct = 0;
    for (const [key, [n]] of cohort) {
      const parts = key.split("|");
      const mask = Number(includeMachine ? parts[5] : parts[4]);
      if (bit === 0 || mask >= bit) cumulative += n!;
      if (bit === 0 || (mask & bit) !== 0) direct += n!;
    }
    out[stage] = [cumulative, direct];
  }
  return out;
}

/** Latency histogram: credentials issued in range by (template, stage v|s, bin) from raw rows. */
export async function truthLatency(sql: Sql, tenant: string, r: Range): Promise<Measures> {
  const rows = await sql`
    select c.template_id::text as tpl, s.stage,
           floor(10 * ln(1 + greatest(extract(epoch from s.at - c.issued_at)::float8, 0)))::int as bin, count(*) as n
      from credentials c
      cross join lateral (values
        ('v', (select min(e.occurred_at) from engagement_events e
                where e.tenant_id = c.tenant_id and e.credential_id = c.id and not e.machine and e.type = 'page_viewed')),
        ('s', (select min(e.occurred_at) from engagement_events e
                where e.tenant_id = c.tenant_id and e.credential_id = c.id and not e.machine and e.type in ('shared', 'linkedin_added')))) s(stage, at)
     where c.tenant_id = ${tenant} and c.issued_at >= ${r.from} and c.issued_at < ${r.to} and s.at is not null
     group by 1, 2, 3`;
  return toMap(rows, ["tpl", "stage", "bin"], ["n"]);
}

/** Exact latencies in seconds (people's first view / first share), for percentile checks. */
export async function truthLatencySeconds(sql: Sql, tenant: string, r: Range, stage: "v" | "s", templateId?: string): Promise<number[]> {
  const types = stage === "v" ? ["page_viewed"] : ["shared", "linkedin_added"];
  const rows = await sql<{ secs: number }[]>`
    select greatest(extract(epoch from f.at - c.issued_at)::float8, 0) as secs
      from credentials c
      cross join lateral (select min(e.occurred_at) as at from engagement_events e
                           where e.tenant_id = c.tenant_id and e.credential_id = c.id and not e.machine and e.type::text in ${sql(types)}) f
     where c.tenant_id = ${tenant} and c.issued_at >= ${r.from} and c.issued_at < ${r.to} and f.at is not null
       and (${templateId ?? null}::uuid is null or c.template_id = ${templateId ?? null}::uuid)
     order by 1`;
  return rows.map((x) => Number(x.secs));
}

export async function rollupLatency(sql: Sql, tenant: string, r: Range): Promise<Measures> {
  const rows = await sql`
    select x.template_id::text as tpl, x.stage, x.bin, sum(x.credentials) as n
      from analytics_cover(${tenant}, ${r.from}, ${r.to}) c
      join analytics_latency_rollups x on x.tenant_id = ${tenant} and x.grain = c.grain and x.bucket >= c.lo and x.bucket < c.hi
     group by 1, 2, 3`;
  return toMap(rows, ["tpl", "stage", "bin"], ["n"]);
}

/** Upper bound of bin b: latencies in bin b are below it. */
export const binUpper = (b: number) => Math.exp((b + 1) / 10) - 1;

/** Nearest-rank percentile read from a histogram (bin -> count): the upper bound of the bin holding it. */
export function percentileFromHistogram(hist: Map<number, number>, p: number): number | null {
  const total = [...hist.values()].reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(p * total));
  let seen = 0;
  for (const b of [...hist.keys()].sort((x, y) => x - y)) {
    seen += hist.get(b)!;
    if (seen >= rank) return binUpper(b);
  }
  return null;
}

/** Nearest-rank percentile (percentile_disc) of sorted values. */
export function exactPercentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(1, Math.ceil(p * sorted.length)) - 1]!;
}

/** Delivery: credential emails queued in range by (template, sender domain, outcome). */
export async function truthDelivery(sql: Sql, tenant: string, r: Range): Promise<Measures> {
  const rows = await sql.unsafe(
    `select coalesce(c.template_id, '${ZERO}')::text as tpl,
            coalesce(lower(substring(o.from_address from '@([^@>\\s]+)>?\\s*$')), '') as domain,
            case when o.status in ('queued', 'sending') then 'pending' else o.status::text end as outcome, count(*) as n
       from email_outbox o
       left join credentials c on c.tenant_id = o.tenant_id and c.id = o.credential_id
      where o.tenant_id = $1 and o.credential_id is not null and o.created_at >= $2 and o.created_at < $3
      group by 1, 2, 3`,
    [tenant, r.from, r.to] as never[],
  );
  return toMap(rows, ["tpl", "domain", "outcome"], ["n"]);
}

export async function rollupDelivery(sql: Sql, tenant: string, r: Range): Promise<Measures> {
  const rows = await sql`
    select x.template_id::text as tpl, x.sender_domain as domain, x.outcome, sum(x.messages) as n
      from analytics_cover(${tenant}, ${r.from}, ${r.to}) c
      join analytics_delivery_rollups x on x.tenant_id = ${tenant} and x.grain = c.grain and x.bucket >= c.lo and x.bucket < c.hi
     group by 1, 2, 3`;
  return toMap(rows, ["tpl", "domain", "outcome"], ["n"]);
}

/**
 * A time series from raw rows: per calendar bucket of `unit` in `zone` (date_trunc, clipped to the
 * range), per type and machine: events, first_human, first_any (template dimension).
 */
export async function truthSeries(sql: Sql, tenant: string, r: Range, unit: string, zone: string): Promise<Measures> {
  const rows = await sql`
    with ranked as (
      select e.occurred_at, e.type::text as type, e.machine,
             (e.credential_id is not null and row_number() over (partition by e.credential_id, e.type order by e.occurred_at, e.id) = 1)::int as fa,
             (e.credential_id is not null and not e.machine
                and row_number() over (partition by e.credential_id, e.type, e.machine order by e.occurred_at, e.id) = 1)::int as fh
        from engagement_events e where e.tenant_id = ${tenant}
    )
    select greatest(date_trunc(${unit}, x.occurred_at, ${zone}), ${r.from}::timestamptz) as lo, x.type, x.machine,
           count(*) as events, sum(x.fh) as fh, sum(x.fa) as fa
      from ranked x
     where x.occurred_at >= ${r.from} and x.occurred_at < ${r.to}
     group by 1, 2, 3`;
  return toMap(rows.map((x) => ({ ...x, lo: (x.lo as Date).toISOString() })), ["lo", "type", "machine"], ["events", "fh", "fa"]);
}

export async function rollupSeries(sql: Sql, tenant: string, r: Range, unit: string, zone: string): Promise<Measures> {
  const rows = await sql`
    select b.lo, x.type::text as type, x.machine, sum(x.events) as events, sum(x.first_human) as fh, sum(x.first_any) as fa
      from analytics_buckets(${r.from}, ${r.to}, ${unit}, ${zone}) b
      cross join lateral analytics_cover(${tenant}, b.lo, b.hi) c
      join analytics_event_rollups x on x.tenant_id = ${tenant} and x.dimension = 't' and x.grain = c.grain and x.bucket >= c.lo and x.bucket < c.hi
     group by 1, 2, 3`;
  return toMap(rows.map((x) => ({ ...x, lo: (x.lo as Date).toISOString() })), ["lo", "type", "machine"], ["events", "fh", "fa"]);
}

/** Every rollup measure for a range, for comparing the rollups with themselves across operations. */
export async function rollupSnapshot(sql: Sql, tenant: string, ranges: Range[]) {
  const out: Record<string, Measures> = {};
  for (const [i, r] of ranges.entries()) {
    out[`events ${i}`] = await rollupEvents(sql, tenant, r);
    out[`cohort ${i}`] = await rollupCohort(sql, tenant, r);
    out[`latency ${i}`] = await rollupLatency(sql, tenant, r);
    out[`delivery ${i}`] = await rollupDelivery(sql, tenant, r);
  }
  return out;
}

/** Differences between two measure maps, as readable lines (empty when equal). */
export function diffMeasures(expected: Measures, actual: Measures, limit = 12): string[] {
  const lines: string[] = [];
  for (const key of new Set([...expected.keys(), ...actual.keys()])) {
    const e = expected.get(key);
    const a = actual.get(key);
    if (JSON.stringify(e) !== JSON.stringify(a)) lines.push(`${key}: raw ${JSON.stringify(e ?? null)} vs rollups ${JSON.stringify(a ?? null)}`);
  }
  lines.sort();
  return lines.length > limit ? [...lines.slice(0, limit), `... and ${lines.length - limit} more`] : lines;
}

/** Sums of a measure over one dimension's keys, for a quick "nothing lost" total. */
export function totalOf(m: Measures, index = 0, dimension?: string): number {
  let sum = 0;
  for (const [key, v] of m) if (!dimension || key.startsWith(`${dimension}|`)) sum += v[index]!;
  return sum;
}

// ---------------------------------------------------------------------------------------------
// Facts per raw row, for computing any operation's expected answer (any range, filter, grouping) in
// the test: one row per event, credential and credential email, straight from the raw tables.

export interface EventFact {
  id: string;
  at: number;
  type: string;
  machine: boolean;
  /** Dimension values, as the contract defines them ('' and the zero uuid for none). */
  dims: Record<"t" | "j" | "c" | "n" | "d" | "f" | "l", string>;
  /** 1 on the credential's first people's event of this type (occurred_at, then id). */
  fh: number;
  /** 1 on the credential's first event of this type, machines too. */
  fa: number;
}

export async function eventFacts(sql: Sql, tenant: string): Promise<EventFact[]> {
  const rows = await sql.unsafe(
    `with ev as (
       select e.id, e.occurred_at, e.type::text as type, e.credential_id, e.machine,
              coalesce(e.template_id, '${ZERO}')::text as t, coalesce(c.bulk_job_id, '${ZERO}')::text as j,
              coalesce(rc.locale, '') as l, e.channel as c, coalesce(e.network, '') as n, coalesce(e.format, '') as f, e.ua_class as d
         from engagement_events e
         left join credentials c on c.tenant_id = e.tenant_id and c.id = e.credential_id
         left join recipients rc on rc.tenant_id = c.tenant_id and rc.id = c.recipient_id
        where e.tenant_id = $1
     )
     select ev.*,
            (credential_id is not null and row_number() over (partition by credential_id, type order by occurred_at, id) = 1)::int as fa,
            (credential_id is not null and not machine
               and row_number() over (partition by credential_id, type, machine order by occurred_at, id) = 1)::int as fh
       from ev order by occurred_at, id`,
    [tenant] as never[],
  );
  return rows.map((r) => ({
    id: r.id as string,
    at: (r.occurred_at as Date).getTime(),
    type: r.type as string,
    machine: r.machine as boolean,
    dims: { t: r.t, j: r.j, c: r.c, n: r.n, d: r.d, f: r.f, l: r.l } as EventFact["dims"],
    fh: Number(r.fh),
    fa: Number(r.fa),
  }));
}

export interface CredFact {
  id: string;
  issuedAt: number;
  tpl: string;
  job: string;
  loc: string;
  status: string;
  hm: number;
  am: number;
  /** Latency histogram bins of people's first view / first share (null: none). */
  viewBin: number | null;
  shareBin: number | null;
}

export async function credentialFacts(sql: Sql, tenant: string): Promise<CredFact[]> {
  const rows = await sql.unsafe(
    `with masks as (
       select e.credential_id, coalesce(bit_or(${STAGE_CASE}) filter (where not e.machine), 0) as h, bit_or(${STAGE_CASE}) as a,
              min(e.occurred_at) filter (where not e.machine and e.type = 'page_viewed') as v,
              min(e.occurred_at) filter (where not e.machine and e.type in ('shared', 'linkedin_added')) as s
         from engagement_events e where e.tenant_id = $1 and e.credential_id is not null group by 1
     ),
     delivered as (
       select distinct o.credential_id from email_outbox o where o.tenant_id = $1 and o.credential_id is not null and (o.delivered_at is not null or o.complained_at is not null)
     )
     select c.id, c.issued_at, c.template_id::text as tpl, coalesce(c.bulk_job_id, '${ZERO}')::text as job, rc.locale as loc, c.status::text as status,
            (coalesce(m.h, 0) | (d.credential_id is not null)::int) as hm, (coalesce(m.a, 0) | (d.credential_id is not null)::int) as am,
            case when m.v is not null then floor(10 * ln(1 + greatest(extract(epoch from m.v - c.issued_at)::float8, 0)))::int end as view_bin,
            case when m.s is not null then floor(10 * ln(1 + greatest(extract(epoch from m.s - c.issued_at)::float8, 0)))::int end as share_bin
       from credentials c
       join recipients rc on rc.tenant_id = c.tenant_id and rc.id = c.recipient_id
       left join masks m on m.credential_id = c.id
       left join delivered d on d.credential_id = c.id
      where c.tenant_id = $1`,
    [tenant] as never[],
  );
  return rows.map((r) => ({
    id: r.id as string,
    issuedAt: (r.issued_at as Date).getTime(),
    tpl: r.tpl as string,
    job: r.job as string,
    loc: r.loc as string,
    status: r.status as string,
    hm: Number(r.hm),
    am: Number(r.am),
    viewBin: r.view_bin === null ? null : Number(r.view_bin),
    shareBin: r.share_bin === null ? null : Number(r.share_bin),
  }));
}

export interface MessageFact {
  createdAt: number;
  tpl: string;
  domain: string;
  outcome: string;
}

export async function messageFacts(sql: Sql, tenant: string): Promise<MessageFact[]> {
  const rows = await sql.unsafe(
    `select o.created_at, coalesce(c.template_id, '${ZERO}')::text as tpl,
            coalesce(lower(substring(o.from_address from '@([^@>\\s]+)>?\\s*$')), '') as domain,
            case when o.status in ('queued', 'sending') then 'pending' else o.status::text end as outcome
       from email_outbox o
       left join credentials c on c.tenant_id = o.tenant_id and c.id = o.credential_id
      where o.tenant_id = $1 and o.credential_id is not null`,
    [tenant] as never[],
  );
  return rows.map((r) => ({ createdAt: (r.created_at as Date).getTime(), tpl: r.tpl as string, domain: r.domain as string, outcome: r.outcome as string }));
}

/** date_trunc(unit, t, zone) of each instant, in order (milliseconds). */
export async function truncated(sql: Sql, instants: number[], unit: string, zone: string): Promise<number[]> {
  if (instants.length === 0) return [];
  const rows = await sql<{ b: Date }[]>`
    select date_trunc(${unit}, x.t, ${zone}) as b
      from unnest(${instants.map((t) => new Date(t).toISOString())}::timestamptz[]) with ordinality x(t, i) order by x.i`;
  return rows.map((r) => r.b.getTime());
}

/** The zone's calendar buckets of `unit` over [from, to), clipped to it: each start is where date_trunc changes. */
/** The calendar buckets an analytics series must answer with (clockRuns: luxon, not PostgreSQL). */
export async function calendarBuckets(_sql: Sql, r: Range, unit: string, zone: string): Promise<{ lo: number; hi: number; partial: boolean }[]> {
  return clockRuns(r.from, r.to, zone, unit).map((x) => ({ lo: x.lo.getTime(), hi: x.hi.getTime(), partial: x.partial }));
}

/**
 * Independent of PostgreSQL: calendar buckets of [from, to) in `zone` as runs of 15-minute slots that
 * share a key by luxon: for hours the local clock hour and the UTC offset, for days the local date,
 * for weeks the ISO week, for months the local month. Clipped to the range; partial when cut.
 */
export function clockRuns(from: Date, to: Date, zone: string, unit: string): { lo: Date; hi: Date; partial: boolean }[] {
  const keyOf = (d: DateTime) =>
    unit === "hour" ? `${d.toFormat("yyyy-MM-dd HH")} ${d.offset}` : unit === "day" ? d.toFormat("yyyy-MM-dd") : unit === "week" ? `${d.weekYear}-${d.weekNumber}` : d.toFormat("yyyy-MM");
  const pad = unit === "hour" ? 7_200_000 : unit === "day" ? 2 * 86_400_000 : unit === "week" ? 8 * 86_400_000 : 32 * 86_400_000;
  const runs: { key: string; s: number; e: number }[] = [];
  for (let t = Math.floor(from.getTime() / 900_000) * 900_000 - pad; t < to.getTime() + pad; t += 900_000) {
    const key = keyOf(DateTime.fromMillis(t, { zone }));
    const last = runs[runs.length - 1];
    if (last && last.key === key) last.e = t + 900_000;
    else runs.push({ key, s: t, e: t + 900_000 });
  }
  return runs
    .filter((x) => x.s < to.getTime() && x.e > from.getTime())
    .map((x) => ({ lo: new Date(Math.max(x.s, from.getTime())), hi: new Date(Math.min(x.e, to.getTime())), partial: x.s < from.getTime() || x.e > to.getTime() }));
}

export const clockHours = (from: Date, to: Date, zone: string) => clockRuns(from, to, zone, "hour");
