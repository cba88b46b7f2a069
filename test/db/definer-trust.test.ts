// What a stolen login connection string (or an injection) gets from the definer functions the runtime
// roles may call: no password hash, no session without the password, no email status changed by
// anything but the provider's own message id, no event written into a tenant that does not own it.
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { hashRaw } from "@node-rs/argon2";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withTenantSql, type Claims } from "../../src/db/tenant-transaction.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { TEST_ROLES } from "../helpers/env.js";
import { seedTenant, type SeededTenant } from "./two-tenants.js";

let db: TestDatabase;
let login: postgres.Sql;
let a: SeededTenant;
let b: SeededTenant;
beforeAll(async () => {
  db = await createTestDatabase();
  login = postgres(db.loginUrl, { max: 2, onnotice: () => {} });
  a = await seedTenant(db.admin, "a");
  b = await seedTenant(db.admin, "b");
});
afterAll(async () => {
  await login.end();
  await db.drop();
});

const anonymous: Claims = { dbRole: TEST_ROLES.anonymous, tenantId: null, userId: null };
const memberOf = (t: SeededTenant): Claims => ({ dbRole: TEST_ROLES.member, tenantId: t.tenantId, userId: t.userId });
const as = <T>(claims: Claims, work: (tx: postgres.TransactionSql) => Promise<T>) => withTenantSql(login, claims, work);

interface Parameters {
  algorithm: string;
  version: number;
  memory_cost: number;
  time_cost: number;
  parallelism: number;
  salt: Buffer;
  output_length: number;
}

const parametersOf = async (email: string) =>
  (await as(anonymous, (tx) => tx<Parameters[]>`select * from login_parameters(${email})`))[0]!;

const derive = (password: string, p: Parameters) =>
  hashRaw(password, { algorithm: 2, version: 1, memoryCost: p.memory_cost, timeCost: p.time_cost, parallelism: p.parallelism, outputLen: p.output_length, salt: p.salt });

const logIn = (email: string, derived: Buffer, tenantId: string | null, sessionId = randomUUID(), expiresAt = new Date(Date.now() + 3_600_000)) =>
  as(anonymous, (tx) => tx`
    select user_id, tenant_id from log_in(${email}, ${derived}, ${tenantId}::uuid, ${sessionId}::uuid, ${randomBytes(32)}, ${expiresAt}, 'test')`);

const sessionsOf = async (userId: string) => (await db.admin`select count(*)::int as n from sessions where user_id = ${userId}`)[0]!.n as number;

describe("passwords", () => {
  it("never leave the database: log-in gets the salt and costs of the stored hash, nothing more", async () => {
    const p = await parametersOf(a.email.toUpperCase());
    expect(Object.keys(p).sort()).toEqual(["algorithm", "memory_cost", "output_length", "parallelism", "salt", "time_cost", "version"]);
    const [stored] = await db.admin`select hash from user_passwords where user_id = ${a.userId}`;
    const [, , , , salt, raw] = (stored!.hash as string).split("$");
    expect(p).toMatchObject({ algorithm: "argon2id", version: 19, memory_cost: 19456, time_cost: 2, parallelism: 1, output_length: 32 });
    expect(p.salt.toString("base64").replace(/=+$/, "")).toBe(salt);
    expect(JSON.stringify(p)).not.toContain(raw!);
    const [gone] = await db.admin`select to_regprocedure('login_lookup(text)') as lookup, to_regprocedure('create_session(uuid,uuid,uuid,bytea,timestamptz,text)') as open`;
    expect(gone).toEqual({ lookup: null, open: null });
  });

  it("answer an unknown email like a real one, the same every time, so no one learns who has an account", async () => {
    const first = await parametersOf("nobody@example.test");
    expect(await parametersOf("NOBODY@example.test")).toEqual(first);
    expect(first).toMatchObject({ algorithm: "argon2id", version: 19, memory_cost: 19456, time_cost: 2, parallelism: 1, output_length: 32 });
    expect(first.salt).toHaveLength(16);
    expect((await parametersOf("somebody-else@example.test")).salt).not.toEqual(first.salt);
  });

  it("open a session only when the derived hash matches, and a wrong one writes nothing", async () => {
    const p = await parametersOf(a.email);
    const before = await sessionsOf(a.userId);
    expect(await logIn(a.email, await derive("not the password", p), null)).toEqual([]);
    expect(await logIn(a.email, Buffer.alloc(32), null)).toEqual([]);
    expect(await sessionsOf(a.userId)).toBe(before);
    const sessionId = randomUUID();
    expect(await logIn(a.email, await derive(a.password, p), null, sessionId)).toEqual([{ user_id: a.userId, tenant_id: a.tenantId }]);
    const [session] = await db.admin`select user_id, active_tenant_id from sessions where id = ${sessionId}`;
    expect(session).toEqual({ user_id: a.userId, active_tenant_id: a.tenantId });
  });

  it("open no session in a tenant the user does not belong to, nor one that lasts beyond a year", async () => {
    const derived = await derive(a.password, await parametersOf(a.email));
    const before = await sessionsOf(a.userId);
    await expect(logIn(a.email, derived, b.tenantId)).rejects.toMatchObject({ code: "LRMBX" });
    await expect(logIn(a.email, derived, null, randomUUID(), new Date(Date.now() + 10 * 365 * 86_400_000))).rejects.toMatchObject({ code: "22023" });
    expect(await sessionsOf(a.userId)).toBe(before);
  });
});

describe("sessions", () => {
  it("cannot be opened by calling the opener, or any function meant for other definer functions", async () => {
    const internal = [
      `select start_session('${a.userId}', null, '${randomUUID()}', '\\x${"00".repeat(32)}', now() + interval '1 hour', 'x')`,
      `select emit_partner_events_for('${a.tenantId}', 'credential.delivered', '[{}]')`,
      `select queue_job_for('${a.tenantId}', 'send_emails', '{}')`,
      `select * from tenants_due_for_reminders()`,
      `select * from sealed_kek_versions()`,
      `select * from argon2_phc('x')`,
    ];
    for (const claims of [anonymous, memberOf(b)]) {
      for (const statement of internal) {
        await expect(as(claims, (tx) => tx.unsafe(statement)), `${claims.dbRole}: ${statement}`).rejects.toMatchObject({ code: "42501" });
      }
    }
    await expect(login.unsafe(internal[0]!)).rejects.toMatchObject({ code: "42501" });
  });

  it("come from an invitation only for the account it creates, never for an existing one", async () => {
    // Since sql/047 the function takes the secret itself (the row keeps its sha256) and the address the
    // app opened; a legacy row (plain address, as the superuser writes it here) is checked against it.
    const secret = randomBytes(32);
    const [invitation] = await db.admin`
      insert into invitations (tenant_id, legacy_email, role, secret_hash, expires_at)
      values (${b.tenantId}, ${a.email}, 'viewer', ${createHash("sha256").update(secret).digest()}, now() + interval '1 day') returning id`;
    const accept = (given: Buffer) =>
      as(anonymous, (tx) => tx`
        select * from accept_invitation(${b.tenantId}, ${invitation!.id}, ${given}, ${a.email}, 'Mallory', 'x', ${randomUUID()}::uuid,
                                        ${randomBytes(32)}, now() + interval '1 hour', 'x')`);
    const before = await sessionsOf(a.userId);
    await expect(accept(randomBytes(32))).rejects.toMatchObject({ code: "LRINV" });
    await expect(accept(secret)).rejects.toMatchObject({ code: "LRLGN" });
    expect(await sessionsOf(a.userId)).toBe(before);
  });
});

describe("password resets", () => {
  const start = (email: string, id = randomUUID(), secretHash: Buffer = randomBytes(32), expiresAt = new Date(Date.now() + 3_600_000)) =>
    as(anonymous, (tx) => tx`select * from start_password_reset(${email}, ${id}::uuid, ${secretHash}, ${expiresAt})`);
  const reset = (id: string, secretHash: Buffer, hash: string) =>
    as(anonymous, (tx) => tx`select * from reset_password(${id}::uuid, ${secretHash}, ${hash}, ${randomUUID()}::uuid, ${randomBytes(32)}, ${new Date(Date.now() + 3_600_000)}, 'test')`);
  const phc = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";

  it("are written only for an account that exists, say where to email and never return a hash or secret", async () => {
    expect(await start("nobody-at-all@example.test")).toEqual([]);
    const [row] = await start(a.email.toUpperCase());
    expect(Object.keys(row!).sort()).toEqual(["email", "user_id", "user_name"]);
    expect(row).toMatchObject({ user_id: a.userId, email: a.email });
    await expect(start(a.email, randomUUID(), randomBytes(8))).rejects.toMatchObject({ code: "22023" });
    await expect(start(a.email, randomUUID(), randomBytes(32), new Date(Date.now() + 3 * 86_400_000))).rejects.toMatchObject({ code: "22023" });
  });

  it("change a password only with the emailed secret, and only to an argon2id hash", async () => {
    const id = randomUUID();
    const secretHash = randomBytes(32);
    await start(b.email, id, secretHash);
    const [before] = await db.admin`select hash from user_passwords where user_id = ${b.userId}`;
    await expect(reset(id, randomBytes(32), phc)).rejects.toMatchObject({ code: "LRRST" });
    await expect(reset(randomUUID(), secretHash, phc)).rejects.toMatchObject({ code: "LRRST" });
    await expect(reset(id, secretHash, "plain text")).rejects.toMatchObject({ code: "22023" });
    expect((await db.admin`select hash from user_passwords where user_id = ${b.userId}`)[0]).toEqual(before);
    const [done] = await reset(id, secretHash, phc);
    expect(done).toMatchObject({ user_id: b.userId, tenant_id: b.tenantId });
    expect((await db.admin`select hash from user_passwords where user_id = ${b.userId}`)[0]!.hash).toBe(phc);
    await expect(reset(id, secretHash, phc)).rejects.toMatchObject({ code: "LRRST" });
  });
});

describe("provider events", () => {
  const apply = (providerMessageId: string, type: string, at = new Date()) =>
    as(anonymous, (tx) => tx`select * from apply_email_event(${`evt_${randomBytes(6).toString("hex")}`}, ${providerMessageId}, ${type}, ${at}, null)`);
  const statusOf = async (id: string) => (await db.admin`select status, delivered_at from email_outbox where id = ${id}`)[0]!;

  it("reach a message only by the id its provider gave it, and say nothing about whose it was", async () => {
    expect(await apply(a.messageId, "email.bounced")).toEqual([{ known: false, applied: false, status: null }]);
    expect(await apply(a.logProviderMessageId, "email.bounced")).toEqual([{ known: false, applied: false, status: null }]);
    expect((await statusOf(a.logMessageId)).status).toBe("sent");
    const result = await apply(a.providerMessageId, "email.delivered", new Date("2099-01-01T00:00:00Z"));
    expect(result).toEqual([{ known: true, applied: true, status: "delivered" }]);
    const delivered = await statusOf(a.messageId);
    expect(delivered.delivered_at.getTime()).toBeLessThanOrEqual(Date.now() + 1000); // a claimed future is now
  });

  it("only move forward, and ignore types they do not know without recording them", async () => {
    expect(await apply(b.providerMessageId, "email.delivered")).toEqual([{ known: true, applied: true, status: "delivered" }]);
    expect(await apply(b.providerMessageId, "email.sent")).toEqual([{ known: true, applied: true, status: "delivered" }]);
    const events = await db.admin`select count(*)::int as n from email_provider_events where provider_message_id = ${b.providerMessageId}`;
    expect(await apply(b.providerMessageId, "email.invented")).toEqual([{ known: true, applied: false, status: "delivered" }]);
    expect(await db.admin`select count(*)::int as n from email_provider_events where provider_message_id = ${b.providerMessageId}`).toEqual(events);
  });
});

describe("engagement events", () => {
  const event = (over: Record<string, unknown>) => ({ type: "page_viewed", channel: "web", ua_class: "desktop", machine: false, ...over });
  const record = (events: object[]) => as(anonymous, (tx) => tx`select record_engagement_events(${JSON.stringify(events)}::text::jsonb) as n`);
  const latest = async (tenantId: string) =>
    (await db.admin`select credential_id, message_id, occurred_at from engagement_events where tenant_id = ${tenantId} order by id desc limit 1`)[0]!;

  it("come at most 1,000 a call", async () => {
    const many = Array.from({ length: 1001 }, () => event({ tenant_id: a.tenantId, credential_id: a.credentialId }));
    await expect(record(many)).rejects.toMatchObject({ code: "54000" });
    expect(await record(many.slice(0, 1000))).toEqual([{ n: 1000 }]);
  });

  it("land only in the tenant that owns the credential they name", async () => {
    const count = async () => (await db.admin`select count(*)::int as n from engagement_events`)[0]!.n as number;
    const before = await count();
    expect(await record([event({ tenant_id: a.tenantId, credential_id: b.credentialId }), event({ tenant_id: b.tenantId, credential_id: randomUUID() })])).toEqual([
      { n: 0 },
    ]);
    expect(await count()).toBe(before);
  });

  it("link a message only if it is the credential's own, and happen within the last day, never in the future", async () => {
    await record([event({ tenant_id: a.tenantId, credential_id: a.credentialId, message_id: a.messageId, type: "email_opened", channel: "email" })]);
    expect((await latest(a.tenantId)).message_id).toBe(a.messageId);
    for (const messageId of [b.messageId, a.logMessageId]) {
      await record([event({ tenant_id: a.tenantId, credential_id: a.credentialId, message_id: messageId, type: "email_opened", channel: "email" })]);
      expect((await latest(a.tenantId)).message_id, messageId).toBeNull();
    }
    await record([event({ tenant_id: a.tenantId, credential_id: a.credentialId, occurred_at: "2099-01-01T00:00:00Z" })]);
    expect((await latest(a.tenantId)).occurred_at.getTime()).toBeLessThanOrEqual(Date.now() + 1000);
    await record([event({ tenant_id: a.tenantId, credential_id: a.credentialId, occurred_at: "2001-01-01T00:00:00Z" })]);
    expect((await latest(a.tenantId)).occurred_at.getTime()).toBeGreaterThan(Date.now() - 86_400_000 - 60_000);
  });
});
