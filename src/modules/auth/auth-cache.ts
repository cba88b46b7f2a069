// Who a bearer token is, remembered for a short while (issue 11, point 5): the lookup (a definer
// function round trip, plus a write of last_used_at for a key) would otherwise come before every request.
// A revoked key, a signed-out session or a changed role therefore stops working within `ttlMs` on every
// server process; on the process that made the change, at once (forget()).
import { createHash } from "node:crypto";
import type { Sql } from "postgres";
import { authenticate, type Viewer } from "./authenticate.js";

export interface AuthCacheOptions {
  /** How long a verified token is believed without asking the database again, in ms (0: always ask). */
  ttlMs: number;
  /** Tokens remembered at most; the least recently used goes first (default 10,000). */
  maxEntries?: number;
  /** Clock, for tests (ms since the epoch). */
  now?: () => number;
}

export interface Authenticator {
  /**
   * The caller behind an Authorization header (null or absent: anonymous). Throws what authenticate()
   * throws (UNAUTHENTICATED for an unknown, revoked, expired or malformed token); failures are never
   * remembered, so a token that becomes valid (none does) or a database that comes back is seen at once.
   */
  authenticate(authorization: string | null): Promise<Viewer>;
  /** Drops every remembered caller `match` selects (a signed-out session, a revoked key, a tenant's members). */
  forget(match: (viewer: Exclude<Viewer, { kind: "anonymous" }>) => boolean): void;
  /** Entries held now (for tests and diagnostics). */
  readonly size: number;
}

type Known = Exclude<Viewer, { kind: "anonymous" }>;

export function createAuthenticator(sql: Sql, options: AuthCacheOptions): Authenticator {
  const now = options.now ?? Date.now;
  const max = options.maxEntries ?? 10_000;
  // Keyed by sha256 of the header: the process never keeps a token itself.
  const entries = new Map<string, { viewer: Known; until: number }>();
  return {
    async authenticate(authorization) {
      if (!authorization || options.ttlMs <= 0) return authenticate(sql, authorization);
      const key = createHash("sha256").update(authorization).digest("base64");
      const hit = entries.get(key);
      const at = now();
      if (hit && hit.until > at) {
        entries.delete(key); // most recently used goes last
        entries.set(key, hit);
        return hit.viewer;
      }
      if (hit) entries.delete(key);
      const viewer = await authenticate(sql, authorization);
      if (viewer.kind !== "anonymous") {
        entries.set(key, { viewer, until: at + options.ttlMs });
        if (entries.size > max) entries.delete(entries.keys().next().value!);
      }
      return viewer;
    },
    forget(match) {
      for (const [key, entry] of entries) if (match(entry.viewer)) entries.delete(key);
    },
    get size() {
      return entries.size;
    },
  };
}

/**
 * After the operation's transaction commits, this process forgets the callers `match` selects (other
 * processes stop believing them within the cache's lifetime). Mutations that end or narrow a caller's
 * rights call it: log-out, switching tenant, a password reset, revoking a key, changing or removing a member.
 */
export function forgetCallersAfterCommit(ctx: { app: { database: { auth: Authenticator } }; afterCommit: (() => void)[] }, match: (viewer: Known) => boolean): void {
  ctx.afterCommit.push(() => ctx.app.database.auth.forget(match));
}
