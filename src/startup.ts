// Checks at start-up, one clear line each: refuse to start where nothing could work (no key-encryption
// key on a real database, stored secrets sealed under a key no longer configured, a database that does
// not answer), and warn where a demo is fine but a deployment is not (a PUBLIC_URL on http or an IP).
import { isIP } from "node:net";
import postgres from "postgres";
import { StartupError, type Config } from "./config.js";
import { isDatabaseUnavailable } from "./db/availability.js";

const GENERATE_KEK = `node -e 'console.log("1:" + require("crypto").randomBytes(32).toString("base64"))'`;

/**
 * What can be known from configuration alone. Throws StartupError for what cannot work; returns the
 * warnings (one line each) for what only a demo may run with.
 */
export function checkConfiguration(config: Config): string[] {
  if (config.databaseUrl && config.keks.size === 0) {
    throw new StartupError(
      `LAUREL_KEKS is not set: on a real PostgreSQL no signing key or webhook secret could be sealed or opened, so nothing could be issued. Generate a key with ${GENERATE_KEK} and set LAUREL_KEKS=<its output>`,
    );
  }
  const problem = publicUrlProblem(config.publicUrl);
  if (!problem) return [];
  const line = `PUBLIC_URL ${config.publicUrl} ${problem}: the did:web identifiers and links in credentials are refused by verifiers elsewhere`;
  if (config.production) throw new StartupError(`${line}; set PUBLIC_URL=https://<your domain>`);
  return [`${line} (fine for a demo on this machine; set PUBLIC_URL=https://<your domain> to issue for real)`];
}

/**
 * The server's warning when, in production, nothing can tell a request that came over TLS from one that
 * did not (no TLS here, no trusted proxy): lib/transit.ts then refuses every request carrying a secret.
 */
export function plainHttpWarning(config: Config): string | null {
  if (!config.production || config.tls || config.trustedProxies.length > 0) return null;
  return "neither LAUREL_TLS_CERT/LAUREL_TLS_KEY nor LAUREL_TRUST_PROXY is set: every API, sign-in and signed-link request will be refused with HTTPS_REQUIRED (serve TLS here, or name the proxy that terminates it)";
}

/** Why a URL cannot carry did:web identifiers that outside resolvers accept (https, a domain name), or null. */
export function publicUrlProblem(publicUrl: string): string | null {
  let url: URL;
  try {
    url = new URL(publicUrl);
  } catch {
    return "is not a URL";
  }
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const reasons: string[] = [];
  if (url.protocol !== "https:") reasons.push(`uses ${url.protocol.replace(":", "")}, not https`);
  if (isIP(host)) reasons.push("names an IP address, not a domain");
  else if (host === "localhost" || host.endsWith(".localhost")) reasons.push("names localhost");
  return reasons.length ? reasons.join(" and ") : null;
}

/**
 * Key-encryption key versions that sealed stored secrets (active signing keys, webhook secrets) but are
 * missing from LAUREL_KEKS: every signature or delivery that needs one would fail, so refuse now.
 * Asks as the owner role, through the one definer function that may count across tenants (sql/020).
 */
export async function checkSealedSecrets(adminUrl: string, owner: string, keks: ReadonlyMap<number, Buffer>): Promise<void> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {}, connection: { application_name: "laurel-startup" } });
  try {
    const rows = await sql.begin(async (tx) => {
      await tx.unsafe(`set local role "${owner}"`);
      return tx<{ version: number; what: string; n: number }[]>`select version, what, n from sealed_kek_versions()`;
    });
    const missing = rows.filter((r) => !keks.has(r.version));
    if (!missing.length) return;
    const versions = [...new Set(missing.map((r) => r.version))].join(", ");
    const counts = missing.map((r) => `${r.n} ${r.what}${r.n === 1 ? "" : "s"} under version ${r.version}`).join(", ");
    throw new StartupError(
      `stored secrets are sealed under key-encryption key version ${versions}, which LAUREL_KEKS no longer has (${counts}): add that key back (LAUREL_KEKS=<new>,<old>), then reseal`,
    );
  } finally {
    await sql.end({ timeout: 5 });
  }
}

const TRANSIENT = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN", "CONNECT_TIMEOUT", "57P03"]);

/**
 * Waits until PostgreSQL at `url` answers, retrying a short while (about 10 s in all) where it may be
 * starting; a refusal that waiting cannot fix (bad password, no such database) fails at once.
 * @throws StartupError with one line naming the server and the reason.
 */
export async function waitForDatabase(url: string, log: (line: string) => void, delaysMs = [1_000, 2_000, 3_000, 4_000]): Promise<void> {
  const where = serverOf(url);
  for (let attempt = 0; ; attempt++) {
    const sql = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {}, connection: { application_name: "laurel-startup" } });
    try {
      await sql`select 1`;
      return;
    } catch (error) {
      const reason = databaseErrorReason(error);
      const delay = delaysMs[attempt];
      if (!TRANSIENT.has(codeOf(error)) || delay === undefined) throw new StartupError(`cannot reach PostgreSQL at ${where}: ${reason}`);
      log(`PostgreSQL at ${where} is not reachable yet (${reason}); trying again in ${delay / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    } finally {
      await sql.end({ timeout: 1 }).catch(() => {});
    }
  }
}

/** Connects as the login role once, so a wrong password is a start-up line rather than every request failing. */
export async function checkLogin(sql: postgres.Sql, url: string, login: string): Promise<void> {
  try {
    await sql`select 1`;
  } catch (error) {
    throw new StartupError(
      `cannot connect to PostgreSQL at ${serverOf(url)} as the login role "${login}": ${databaseErrorReason(error)} (set LAUREL_DB_LOGIN_PASSWORD, or DATABASE_APP_URL)`,
    );
  }
}

/**
 * Prints why start-up failed and exits 1: one line for what the operator must fix (StartupError, a
 * database that refuses), the stack only for what is a bug.
 */
export function reportStartupFailure(error: unknown): never {
  if (error instanceof StartupError) console.error(`Laurel cannot start: ${error.message}`);
  else if (codeOf(error)) console.error(`Laurel cannot start: the database answered: ${databaseErrorReason(error)}`);
  else console.error("Laurel cannot start:", error);
  process.exit(1);
}

function codeOf(error: unknown): string {
  const e = error as { code?: unknown; errno?: unknown } | null;
  return typeof e?.code === "string" ? e.code : "";
}

function databaseErrorReason(error: unknown): string {
  const code = codeOf(error);
  const friendly: Record<string, string> = {
    ECONNREFUSED: "connection refused (is PostgreSQL running there?)",
    ENOTFOUND: "no such host",
    EAI_AGAIN: "the host name does not resolve right now",
    ETIMEDOUT: "the connection timed out",
    CONNECT_TIMEOUT: "the connection timed out",
    EHOSTUNREACH: "the host is unreachable",
    "57P03": "the database system is starting up",
  };
  const message = (error as Error)?.message?.split("\n")[0] ?? String(error);
  return friendly[code] ?? (code && !message.includes(code) ? `${message} (${code})` : message);
}

function serverOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return "the configured address";
  }
}

/**
 * Runs `stop` once on the first SIGTERM or SIGINT and exits 0 when it is done (1 if it failed); a
 * second signal exits at once. `stop` should stop taking work, finish what is in flight and close pools.
 */
export function onShutdownSignals(stop: (signal: string) => Promise<void>, signals: readonly ("SIGTERM" | "SIGINT")[] = ["SIGTERM", "SIGINT"]): void {
  let stopping = false;
  for (const signal of signals) {
    process.on(signal, () => {
      if (stopping) {
        console.log(`${signal} again: exiting without waiting`);
        process.exit(1);
      }
      stopping = true;
      stop(signal).then(
        () => process.exit(0),
        (error: unknown) => {
          console.error("shutdown failed:", error);
          process.exit(1);
        },
      );
    });
  }
}

/**
 * A promise nobody awaited that failed is a lost piece of work, not a corrupt process: Node's default
 * (exit) would turn a database restart into an outage, since libraries record a job's end without
 * awaiting it (graphile-worker) or race their own clean-up when connections drop (a listener client
 * released twice). A lost connection is logged in one line (its work is retried once the database is
 * back); anything else is logged in full, as the bug it is, and the process carries on.
 */
export function surviveDatabaseOutages(): void {
  let loggedAt = 0;
  process.on("unhandledRejection", (reason) => {
    if (!isDatabaseUnavailable(reason)) {
      console.error("unhandled rejection (carrying on):", reason);
      return;
    }
    if (Date.now() - loggedAt < 5_000) return;
    loggedAt = Date.now();
    console.error(`database unavailable (${(reason as Error)?.message ?? reason}); carrying on, the work is retried once it is back`);
  });
}
