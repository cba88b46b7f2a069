// Everything Laurel reads from the environment, read once and validated, so a typo fails at start-up
// rather than on the first request.
import { existsSync } from "node:fs";
import { isIP } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

export interface DbRoles {
  owner: string;
  login: string;
  member: string;
  anonymous: string;
  /** NOLOGIN: owns the SECURITY DEFINER functions that must look across tenants (sql/README.md). */
  gatekeeper: string;
}

export interface Config {
  /** Admin connection: bootstraps roles and runs migrations. Unset: the embedded PGlite database. */
  databaseUrl: string | undefined;
  /** The server's runtime connection (the login role). Derived from databaseUrl when unset. */
  appDatabaseUrl: string | undefined;
  /**
   * The login role's password (LAUREL_DB_LOGIN_PASSWORD). Used to create that role, and to connect as
   * it; an existing role's password is changed only by `npm run db:migrate -- --set-login-password`.
   */
  loginPassword: string | undefined;
  roles: DbRoles;
  /** The embedded demo's folder (LAUREL_DATA_DIR): its database and its key files; see embeddedLayout. */
  dataDir: string;
  /**
   * Where tenant exports are written (LAUREL_EXPORT_DIR; default <OS temp dir>/laurel-exports): part
   * files while an export runs, then its ZIP until the link expires. Every worker and server process
   * must see the same directory (one machine, or a shared volume).
   */
  exportDir: string;
  host: string;
  port: number;
  publicUrl: string;
  /**
   * Serve HTTPS from these PEM files (LAUREL_TLS_CERT: the certificate, then its chain; LAUREL_TLS_KEY:
   * its private key, unencrypted), read at start-up and again on SIGHUP. Unset: plain HTTP.
   */
  tls: { certFile: string; keyFile: string } | undefined;
  /**
   * The proxies whose X-Forwarded-Proto is believed (LAUREL_TRUST_PROXY: addresses and CIDR ranges,
   * comma-separated). Anyone else's is ignored: a client could claim https over plain HTTP.
   */
  trustedProxies: string[];
  poolSize: number;
  sessionTtlHours: number;
  /** Requests per client address to the public privacy pages: a sustained rate per second and a burst (PRIVACY_RATE_PER_SECOND 2, PRIVACY_RATE_BURST 60). */
  privacyRate: { perSecond: number; burst: number };
  /** How long a verified API key or session is believed without asking the database (AUTH_CACHE_TTL_MS, default 5,000; 0: always ask). */
  authCacheTtlMs: number;
  invitationTtlHours: number;
  maxBodyBytes: number;
  /** Authenticated JSON requests (bulk rows) may be this large. */
  maxAuthenticatedBodyBytes: number;
  /** Multipart requests (CSV uploads) may be this large. */
  maxUploadBytes: number;
  /** On SIGTERM/SIGINT, how long requests in flight may take to finish before their connections close. */
  shutdownTimeoutMs: number;
  /** Whether `npm start` also runs background work (bulk jobs) in the server process. */
  runWorker: boolean;
  /** HTTP server processes sharing the port (LAUREL_SERVER_PROCESSES, default 1); above 1 the first process runs only the worker. */
  serverProcesses: number;
  /** Rows per bulk transaction, and how long a runner's lease on a job lasts without renewal. */
  bulkChunkSize: number;
  bulkConcurrency: number;
  graphiql: boolean;
  /** NODE_ENV=production: start-up refuses what a demo only warns about (a PUBLIC_URL on http or an IP). */
  production: boolean;
  /** Key-encryption keys by version; the highest version seals new secrets. */
  keks: ReadonlyMap<number, Buffer>;
  email: EmailConfig;
  queue: QueueConfig;
  webhooks: WebhookConfig;
  backup: BackupConfig;
}

export interface BackupConfig {
  /** LAUREL_BACKUP_DIR: where the worker writes a daily backup; unset, the worker takes none. */
  dir: string | undefined;
  /** LAUREL_BACKUP_KEEP (default 7): backups of this database kept in dir, the newest; the one just written always stays. */
  keep: number;
  /** LAUREL_BACKUP_RECIPIENTS: age X25519 public keys (age1...), comma- or space-separated; every backup is readable by each. */
  recipients: string[];
  /** LAUREL_BACKUP_IDENTITY: an age secret key (AGE-SECRET-KEY-1...) or the path of a file of them; only a restore needs it. */
  identity: string | undefined;
}

export interface EmailConfig {
  /** Unset: messages are rendered and recorded in the database only (the demo outbox). */
  resendApiKey: string | undefined;
  /** Resend's API base (the SDK's RESEND_BASE_URL); tests point it at a local server. */
  resendBaseUrl: string | undefined;
  /** Secret of the Resend webhook (whsec_...), to verify delivery events. */
  resendWebhookSecret: string | undefined;
  /** The platform sender, used when a tenant has no verified domain of its own. */
  defaultFrom: string;
}

export interface QueueConfig {
  /** Jobs run at once by one worker process. */
  concurrency: number;
  /** Milliseconds between a worker's heartbeats, and after which a silent worker's jobs are released. */
  heartbeatMs: number;
  staleAfterMs: number;
  pollIntervalMs: number;
  /** Minutes between reminder sweeps. */
  reminderSweepMinutes: number;
  /** Days a tenant's data key seals new data before the daily job rotates it (LAUREL_DATA_KEY_ROTATION_DAYS). */
  dataKeyRotationDays: number;
}

export interface WebhookConfig {
  /** Delays (seconds) before each retry; their sum is how long a delivery keeps trying (about a day). */
  retrySchedule: number[];
  /** Deliveries that ran out of retries in a row before an endpoint is disabled. */
  disableAfterFailures: number;
  /** Allow private, loopback and link-local destinations (tests and on-premise only). */
  allowPrivateNetworks: boolean;
  timeoutMs: number;
}

const identifier = /^[a-z_][a-z0-9_]{0,62}$/;

function role(env: NodeJS.ProcessEnv, key: string, fallback: string): string {
  const value = env[key] ?? fallback;
  if (!identifier.test(value)) throw new StartupError(`${key} must be a lower-case SQL identifier, got "${value}"`);
  return value;
}

function int(env: NodeJS.ProcessEnv, key: string, fallback: number, min = 1): number {
  const raw = env[key];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new StartupError(`${key} must be an integer of at least ${min}, got "${raw}"`);
  return value;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = int(env, "PORT", 4000, 0); // 0: any free port
  const host = env.HOST ?? "127.0.0.1";
  const tls = tlsFiles(env);
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    appDatabaseUrl: env.DATABASE_APP_URL || undefined,
    loginPassword: env.LAUREL_DB_LOGIN_PASSWORD || undefined,
    roles: {
      owner: role(env, "LAUREL_DB_OWNER", "laurel_owner"),
      login: role(env, "LAUREL_DB_LOGIN", "laurel_app"),
      member: role(env, "LAUREL_DB_MEMBER", "laurel_member"),
      anonymous: role(env, "LAUREL_DB_ANONYMOUS", "laurel_anonymous"),
      gatekeeper: role(env, "LAUREL_DB_GATEKEEPER", "laurel_gatekeeper"),
    },
    dataDir: env.LAUREL_DATA_DIR || ".data",
    exportDir: path.resolve(env.LAUREL_EXPORT_DIR || path.join(tmpdir(), "laurel-exports")),
    host,
    port,
    publicUrl: (env.PUBLIC_URL ?? `${tls ? "https" : "http"}://${host === "0.0.0.0" ? "localhost" : host}:${port}`).replace(/\/$/, ""),
    tls,
    trustedProxies: parseTrustedProxies(env.LAUREL_TRUST_PROXY),
    poolSize: int(env, "DATABASE_POOL_SIZE", 10),
    sessionTtlHours: int(env, "SESSION_TTL_HOURS", 24 * 7),
    privacyRate: { perSecond: int(env, "PRIVACY_RATE_PER_SECOND", 2), burst: int(env, "PRIVACY_RATE_BURST", 60) },
    authCacheTtlMs: int(env, "AUTH_CACHE_TTL_MS", 5_000, 0),
    invitationTtlHours: int(env, "INVITATION_TTL_HOURS", 24 * 7),
    maxBodyBytes: int(env, "MAX_BODY_BYTES", 1024 * 1024),
    maxAuthenticatedBodyBytes: int(env, "MAX_AUTHENTICATED_BODY_BYTES", 32 * 1024 * 1024),
    maxUploadBytes: int(env, "MAX_UPLOAD_BYTES", 64 * 1024 * 1024),
    shutdownTimeoutMs: int(env, "SHUTDOWN_TIMEOUT_MS", 20_000),
    runWorker: (env.LAUREL_RUN_WORKER ?? "true") !== "false",
    serverProcesses: int(env, "LAUREL_SERVER_PROCESSES", 1),
    bulkChunkSize: int(env, "BULK_CHUNK_SIZE", 500),
    bulkConcurrency: int(env, "BULK_CONCURRENCY", 2),
    graphiql: (env.NODE_ENV ?? "development") !== "production",
    production: env.NODE_ENV === "production",
    keks: parseKeks(env.LAUREL_KEKS),
    email: {
      resendApiKey: env.RESEND_API_KEY || undefined,
      resendBaseUrl: env.RESEND_BASE_URL || undefined,
      resendWebhookSecret: env.RESEND_WEBHOOK_SECRET || undefined,
      defaultFrom: env.LAUREL_EMAIL_FROM ?? "Laurel <credentials@laurel.example>",
    },
    queue: {
      concurrency: int(env, "WORKER_CONCURRENCY", 8),
      heartbeatMs: int(env, "WORKER_HEARTBEAT_MS", 5_000),
      staleAfterMs: int(env, "WORKER_STALE_AFTER_MS", 60_000),
      pollIntervalMs: int(env, "WORKER_POLL_INTERVAL_MS", 1_000),
      reminderSweepMinutes: int(env, "REMINDER_SWEEP_MINUTES", 15),
      dataKeyRotationDays: int(env, "LAUREL_DATA_KEY_ROTATION_DAYS", 90, 1),
    },
    webhooks: {
      retrySchedule: parseSchedule(env.WEBHOOK_RETRY_SCHEDULE ?? "5,60,300,1800,7200,18000,36000,22000"),
      disableAfterFailures: int(env, "WEBHOOK_DISABLE_AFTER", 5),
      allowPrivateNetworks: env.WEBHOOK_ALLOW_PRIVATE_NETWORKS === "true",
      timeoutMs: int(env, "WEBHOOK_TIMEOUT_MS", 10_000),
    },
    backup: parseBackup(env),
  };
}

function parseBackup(env: NodeJS.ProcessEnv): BackupConfig {
  const recipients = (env.LAUREL_BACKUP_RECIPIENTS ?? "").split(/[\s,]+/).filter(Boolean);
  // bech32: "age1" then its 32-letter alphabet; a pasted secret key or a typo fails here, not at 3 a.m.
  const bad = recipients.find((r) => !/^age1[02-9ac-hj-np-z]{50,}$/.test(r));
  if (bad) throw new StartupError(`LAUREL_BACKUP_RECIPIENTS must hold age public keys (age1...), got "${bad.slice(0, 12)}..."`);
  const dir = env.LAUREL_BACKUP_DIR ? path.resolve(env.LAUREL_BACKUP_DIR) : undefined;
  if (dir && !recipients.length) throw new StartupError("LAUREL_BACKUP_DIR is set but LAUREL_BACKUP_RECIPIENTS is not: backups are only ever written encrypted");
  return { dir, keep: int(env, "LAUREL_BACKUP_KEEP", 7), recipients, identity: env.LAUREL_BACKUP_IDENTITY || undefined };
}

function tlsFiles(env: NodeJS.ProcessEnv): Config["tls"] {
  const certFile = env.LAUREL_TLS_CERT || undefined;
  const keyFile = env.LAUREL_TLS_KEY || undefined;
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) throw new StartupError(`LAUREL_TLS_CERT and LAUREL_TLS_KEY go together: ${certFile ? "LAUREL_TLS_KEY" : "LAUREL_TLS_CERT"} is not set`);
  return { certFile, keyFile };
}

/**
 * LAUREL_TRUST_PROXY="127.0.0.1,10.0.0.0/8": addresses and CIDR ranges (IPv4 or IPv6). Not "true":
 * trusting every peer would let anyone who reaches the port directly claim https.
 */
export function parseTrustedProxies(raw: string | undefined): string[] {
  const entries = (raw ?? "").split(",").map((p) => p.trim()).filter(Boolean);
  for (const entry of entries) {
    const [address, bits, extra] = entry.split("/");
    const family = isIP(address ?? "");
    const prefixOk = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32));
    if (!family || !prefixOk || extra !== undefined) {
      throw new StartupError(`LAUREL_TRUST_PROXY lists the addresses of the proxies in front of Laurel (e.g. 127.0.0.1 or 10.0.0.0/8), got "${entry}"`);
    }
  }
  return entries;
}

function parseSchedule(raw: string): number[] {
  const delays = raw.split(",").map((s) => Number(s.trim()));
  if (!delays.length || delays.some((d) => !Number.isFinite(d) || d < 0)) {
    throw new StartupError(`WEBHOOK_RETRY_SCHEDULE must be comma-separated seconds, got "${raw}"`);
  }
  return delays;
}

/**
 * LAUREL_KEKS="2:<base64 32 bytes>,1:<base64 32 bytes>": every key-encryption key still needed to open
 * stored secrets; the highest version seals new ones. Unset, the embedded demo makes one in its data
 * folder (src/main.ts); a server on a real database refuses to sign without one.
 */
export function parseKeks(raw: string | undefined): Map<number, Buffer> {
  const keks = new Map<number, Buffer>();
  for (const part of (raw ?? "").split(",").map((p) => p.trim()).filter(Boolean)) {
    const match = /^(\d+):([A-Za-z0-9+/=_-]+)$/.exec(part);
    const key = match ? Buffer.from(match[2]!, "base64") : Buffer.alloc(0);
    if (!match || key.length !== 32) throw new StartupError("LAUREL_KEKS entries must look like <version>:<base64 of 32 bytes>");
    // Two keys under one version would silently keep the last: what was sealed under the other never opens.
    if (keks.has(Number(match[1]))) throw new StartupError(`LAUREL_KEKS names version ${match[1]} twice: give each key its own version`);
    keks.set(Number(match[1]), key);
  }
  return keks;
}

/**
 * The runtime URL: the admin URL with the login role's name and password in place of the admin's.
 * Without LAUREL_DB_LOGIN_PASSWORD it carries no password (trust, peer or a .pgpass file decide).
 */
export function appUrlFor(config: Config): string {
  if (config.appDatabaseUrl) return config.appDatabaseUrl;
  if (!config.databaseUrl) throw new Error("DATABASE_URL or DATABASE_APP_URL is required");
  const url = new URL(config.databaseUrl);
  url.username = config.roles.login;
  url.password = config.loginPassword ?? "";
  return url.toString();
}

/**
 * Where the embedded demo keeps things, all inside LAUREL_DATA_DIR: the PGlite database in `pglite/`,
 * the key-encryption key and the demo API key beside it. A folder that is itself a PostgreSQL data
 * directory (PG_VERSION), which LAUREL_DATA_DIR used to name, stays the database, and its key files
 * move inside it (demo.ts).
 */
export function embeddedLayout(dataDir: string): { root: string; database: string; legacy: boolean } {
  const root = path.resolve(dataDir);
  const legacy = existsSync(path.join(root, "PG_VERSION"));
  return { root, database: legacy ? root : path.join(root, "pglite"), legacy };
}

/**
 * Something the operator must fix before Laurel can work (a missing secret, an unreachable database):
 * the entry points print its message as one line, without a stack, and exit 1.
 */
export class StartupError extends Error {
  override name = "StartupError";
}
