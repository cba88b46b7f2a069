// Everything Laurel reads from the environment, read once and validated, so a typo fails at start-up
// rather than on the first request.

export interface DbRoles {
  owner: string;
  login: string;
  member: string;
  anonymous: string;
}

export interface Config {
  /** Admin connection: bootstraps roles and runs migrations. Unset: the embedded PGlite database. */
  databaseUrl: string | undefined;
  /** The server's runtime connection (the login role). Derived from databaseUrl when unset. */
  appDatabaseUrl: string | undefined;
  loginPassword: string;
  roles: DbRoles;
  dataDir: string;
  host: string;
  port: number;
  publicUrl: string;
  poolSize: number;
  sessionTtlHours: number;
  invitationTtlHours: number;
  maxBodyBytes: number;
  /** Authenticated JSON requests (bulk rows) may be this large. */
  maxAuthenticatedBodyBytes: number;
  /** Multipart requests (CSV uploads) may be this large. */
  maxUploadBytes: number;
  /** Whether `npm start` also runs background work (bulk jobs) in the server process. */
  runWorker: boolean;
  /** Rows per bulk transaction, and how long a runner's lease on a job lasts without renewal. */
  bulkChunkSize: number;
  bulkLeaseSeconds: number;
  bulkConcurrency: number;
  graphiql: boolean;
  /** Key-encryption keys by version; the highest version seals new secrets. */
  keks: ReadonlyMap<number, Buffer>;
}

const identifier = /^[a-z_][a-z0-9_]{0,62}$/;

function role(env: NodeJS.ProcessEnv, key: string, fallback: string): string {
  const value = env[key] ?? fallback;
  if (!identifier.test(value)) throw new Error(`${key} must be a lower-case SQL identifier, got "${value}"`);
  return value;
}

function int(env: NodeJS.ProcessEnv, key: string, fallback: number, min = 1): number {
  const raw = env[key];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${key} must be an integer of at least ${min}, got "${raw}"`);
  return value;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = int(env, "PORT", 4000, 0); // 0: any free port
  const host = env.HOST ?? "127.0.0.1";
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    appDatabaseUrl: env.DATABASE_APP_URL || undefined,
    loginPassword: env.LAUREL_DB_LOGIN_PASSWORD ?? "laurel_app_dev_password",
    roles: {
      owner: role(env, "LAUREL_DB_OWNER", "laurel_owner"),
      login: role(env, "LAUREL_DB_LOGIN", "laurel_app"),
      member: role(env, "LAUREL_DB_MEMBER", "laurel_member"),
      anonymous: role(env, "LAUREL_DB_ANONYMOUS", "laurel_anonymous"),
    },
    dataDir: env.LAUREL_DATA_DIR ?? ".data/pglite",
    host,
    port,
    publicUrl: (env.PUBLIC_URL ?? `http://${host === "0.0.0.0" ? "localhost" : host}:${port}`).replace(/\/$/, ""),
    poolSize: int(env, "DATABASE_POOL_SIZE", 10),
    sessionTtlHours: int(env, "SESSION_TTL_HOURS", 24 * 7),
    invitationTtlHours: int(env, "INVITATION_TTL_HOURS", 24 * 7),
    maxBodyBytes: int(env, "MAX_BODY_BYTES", 1024 * 1024),
    maxAuthenticatedBodyBytes: int(env, "MAX_AUTHENTICATED_BODY_BYTES", 32 * 1024 * 1024),
    maxUploadBytes: int(env, "MAX_UPLOAD_BYTES", 64 * 1024 * 1024),
    runWorker: (env.LAUREL_RUN_WORKER ?? "true") !== "false",
    bulkChunkSize: int(env, "BULK_CHUNK_SIZE", 500),
    bulkLeaseSeconds: int(env, "BULK_LEASE_SECONDS", 120),
    bulkConcurrency: int(env, "BULK_CONCURRENCY", 2),
    graphiql: (env.NODE_ENV ?? "development") !== "production",
    keks: parseKeks(env.LAUREL_KEKS),
  };
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
    if (!match || key.length !== 32) throw new Error("LAUREL_KEKS entries must look like <version>:<base64 of 32 bytes>");
    keks.set(Number(match[1]), key);
  }
  return keks;
}

/** The runtime URL: the admin URL with the login role's name and password in place of the admin's. */
export function appUrlFor(config: Config): string {
  if (config.appDatabaseUrl) return config.appDatabaseUrl;
  if (!config.databaseUrl) throw new Error("DATABASE_URL or DATABASE_APP_URL is required");
  const url = new URL(config.databaseUrl);
  url.username = config.roles.login;
  url.password = config.loginPassword;
  return url.toString();
}
