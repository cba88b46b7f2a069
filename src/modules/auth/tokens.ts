// Bearer tokens: a kind prefix, then base64url(id ‖ [tenant id] ‖ 32 random bytes). Carrying the ids
// makes lookups a primary-key probe that leads with tenant_id (ready for sharding by tenant); only
// sha256(secret) is stored, which is enough for 256 random bits.
import { createHash, randomBytes, randomUUID } from "node:crypto";

export type TokenKind = "apiKey" | "session" | "invitation" | "passwordReset";
const PREFIX: Record<TokenKind, string> = { apiKey: "lrk_", session: "lrs_", invitation: "lri_", passwordReset: "lrp_" };
const SECRET_BYTES = 32;

export interface IssuedToken {
  token: string;
  id: string;
  tenantId: string | null;
  secretHash: Uint8Array<ArrayBuffer>;
  /** The raw secret: never stored; an invitation derives the key of its invitee's sealed address from it. */
  secret: Uint8Array;
  /** Shown in lists so people can tell keys apart; not secret. */
  displayPrefix: string;
}

export interface ParsedToken {
  kind: TokenKind;
  id: string;
  tenantId: string | null;
  secretHash: Uint8Array<ArrayBuffer>;
  /** The raw secret (see IssuedToken.secret). */
  secret: Uint8Array;
}

export function issueToken(kind: TokenKind, tenantId: string | null): IssuedToken {
  return tokenOf(kind, tenantId, randomUUID(), randomBytes(SECRET_BYTES));
}

/** The token of a given id, tenant and 32-byte secret (issueToken draws both). */
export function tokenOf(kind: TokenKind, tenantId: string | null, id: string, secret: Uint8Array): IssuedToken {
  const parts = [uuidBytes(id), ...(tenantId ? [uuidBytes(tenantId)] : []), secret];
  const token = PREFIX[kind] + Buffer.concat(parts).toString("base64url");
  return { token, id, tenantId, secretHash: hashSecret(secret), secret, displayPrefix: token.slice(0, 12) };
}

export function parseToken(token: string): ParsedToken | null {
  const kind = (Object.keys(PREFIX) as TokenKind[]).find((k) => token.startsWith(PREFIX[k]));
  if (!kind) return null;
  const body = token.slice(4);
  if (!/^[A-Za-z0-9_-]+$/.test(body)) return null;
  const bytes = Buffer.from(body, "base64url");
  // One spelling per token: base64url's unused trailing bits (or a missing or extra character) make another.
  if (bytes.toString("base64url") !== body) return null;
  // Sessions and password resets are an account's, not a tenant's.
  const withTenant = kind !== "session" && kind !== "passwordReset";
  const expected = 16 + (withTenant ? 16 : 0) + SECRET_BYTES;
  if (bytes.length !== expected) return null;
  return {
    kind,
    id: bytesToUuid(bytes.subarray(0, 16)),
    tenantId: withTenant ? bytesToUuid(bytes.subarray(16, 32)) : null,
    secretHash: hashSecret(bytes.subarray(expected - SECRET_BYTES)),
    secret: bytes.subarray(expected - SECRET_BYTES),
  };
}

export function hashSecret(secret: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(createHash("sha256").update(secret).digest());
}

function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ""), "hex");
}

function bytesToUuid(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
