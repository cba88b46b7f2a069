// Opens Laurel's database: the given PostgreSQL, or an embedded PGlite served over a local socket so
// the same drivers work. Migrates first (as the admin URL), then connects as the login role only.
import { createAuthenticator, type Authenticator } from "../modules/auth/auth-cache.js";
import postgres from "postgres";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { BoundConnectionPool, statementName } from "./request-connection.js";
import { withRelationStrategy } from "./relation-strategy.js";
import { PrismaClient } from "../generated/prisma/client.js";
import { appUrlFor, embeddedLayout, type Config } from "../config.js";
import { migrate } from "./migrate.js";
import { checkLogin, waitForDatabase } from "../startup.js";
import { watchConnections } from "./availability.js";
import { attachVault, Vault } from "../modules/vault/vault.js";

export type Sql = postgres.Sql;

export interface Database extends PrismaOverPool {
  /** postgres.js as the login role: auth lookups, bulk work, anything hand-written. */
  sql: Sql;
  adminUrl: string;
  appUrl: string;
  embedded: boolean;
  /** Bearer tokens verified against sql, remembered for config.authCacheTtlMs (modules/auth/auth-cache.ts). */
  auth: Authenticator;
  /** Tenants' data keys for sealed personal data (modules/vault); also reachable from `db` by vaultOf. */
  vault: Vault;
  close(): Promise<void>;
}

import { OMIT_SECRETS } from "./secrets.js";
export { OMIT_SECRETS };

/** Prisma, and the pg pool whose connections withTenantTransaction lends it one unit of work at a time. */
export interface PrismaOverPool {
  prisma: PrismaClient;
  pool: pg.Pool;
}

export function createPrisma(url: string, poolSize: number, onQuery?: (sql: string) => void): PrismaOverPool {
  // A unit of work that cannot get a connection within 10 s fails instead of waiting forever.
  // Prisma's pg adapter passes timestamptz as wall-clock text and reads it back by relabelling the
  // session's local time as UTC: on a server whose TimeZone is not UTC every instant would be stored
  // shifted (seen: 5 h 30 under Asia/Kolkata). Its sessions are pinned to UTC.
  const pool = new pg.Pool({ connectionString: url, max: poolSize, application_name: "laurel", connectionTimeoutMillis: 10_000, options: "-c TimeZone=UTC" });
  watchConnections(pool);
  // Named statements are prepared once per connection (request-connection.ts bounds how many).
  const adapter = new PrismaPg(new BoundConnectionPool(pool), { statementNameGenerator: (query) => statementName(query.sql) });
  if (!onQuery) return { prisma: withRelationStrategy(new PrismaClient({ adapter, omit: OMIT_SECRETS })), pool };
  const prisma = new PrismaClient({ adapter, omit: OMIT_SECRETS, log: [{ level: "query", emit: "event" }] });
  prisma.$on("query", (event) => onQuery(event.query));
  return { prisma: withRelationStrategy(prisma as unknown as PrismaClient), pool };
}

export function createSql(url: string, poolSize: number): Sql {
  return postgres(url, { max: poolSize, onnotice: () => {}, connection: { application_name: "laurel" } });
}

export interface OpenOptions {
  log?: (line: string) => void;
  /** Sees every SQL statement Prisma sends (tests count them to catch N+1). */
  onQuery?: (sql: string) => void;
  /** `npm run db:migrate -- --set-login-password`: give the existing login role LAUREL_DB_LOGIN_PASSWORD. */
  setLoginPassword?: boolean;
}

export async function openDatabase(config: Config, options: OpenOptions = {}): Promise<Database> {
  const log = options.log ?? (() => {});
  let adminUrl = config.databaseUrl;
  let stopEmbedded: (() => Promise<void>) | undefined;
  let poolSize = config.poolSize;
  if (!adminUrl) {
    const folder = embeddedLayout(config.dataDir).database;
    const embedded = await startEmbedded(folder);
    adminUrl = embedded.url;
    stopEmbedded = embedded.stop;
    // One PGlite session underneath: more connections only queue (pglite-socket keeps each
    // transaction on its connection), and more than one per client proved unstable.
    poolSize = 1;
    log(`embedded PostgreSQL (PGlite) in ${folder}`);
  } else {
    await waitForDatabase(adminUrl, log);
  }
  await migrate({ adminUrl, roles: config.roles, loginPassword: config.loginPassword, setLoginPassword: options.setLoginPassword, embedded: Boolean(stopEmbedded), log });
  const appUrl = stopEmbedded ? adminUrl : appUrlFor({ ...config, databaseUrl: adminUrl });
  const { prisma, pool } = createPrisma(appUrl, poolSize, options.onQuery);
  const sql = createSql(appUrl, poolSize);
  if (!stopEmbedded) await checkLogin(sql, appUrl, config.roles.login).catch(async (error) => {
    await Promise.all([pool.end(), sql.end({ timeout: 1 })]);
    throw error;
  });
  const vault = new Vault(config.keks);
  attachVault(prisma, vault);
  return {
    prisma,
    pool,
    sql,
    vault,
    adminUrl,
    appUrl,
    embedded: Boolean(stopEmbedded),
    auth: createAuthenticator(sql, { ttlMs: config.authCacheTtlMs }),
    async close() {
      await prisma.$disconnect();
      await pool.end();
      await sql.end({ timeout: 5 });
      await stopEmbedded?.();
    },
  };
}

async function startEmbedded(dataDir: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const { mkdir } = await import("node:fs/promises");
  const { PGlite } = await import("@electric-sql/pglite");
  const { PGLiteSocketServer } = await import("@electric-sql/pglite-socket");
  await mkdir(dataDir, { recursive: true });
  const pglite = await PGlite.create(dataDir);
  const server = new PGLiteSocketServer({ db: pglite, host: "127.0.0.1", port: 0, maxConnections: 16 });
  await server.start();
  const address = server.getServerConn();
  return {
    url: `postgres://postgres@${address}/postgres`,
    async stop() {
      await server.stop();
      await pglite.close();
    },
  };
}
