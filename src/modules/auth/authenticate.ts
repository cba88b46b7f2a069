// Turns an Authorization header into a Viewer. Runs as the login role through the SECURITY DEFINER
// lookups of sql/005, before the request's transaction opens: the login role cannot read api_keys or
// sessions itself.
import type { Sql } from "../../db/database.js";
import type { ApiKeyScope, MemberRole } from "../../generated/prisma/enums.js";
import { unauthenticated } from "../../errors.js";
import { parseToken } from "./tokens.js";

export type Viewer =
  | { kind: "anonymous" }
  | { kind: "user"; userId: string; sessionId: string; tenantId: string | null; role: MemberRole | null }
  | { kind: "apiKey"; apiKeyId: string; tenantId: string; scopes: ApiKeyScope[] };

export async function authenticate(sql: Sql, authorization: string | null): Promise<Viewer> {
  if (!authorization) return { kind: "anonymous" };
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!match) throw unauthenticated("Malformed Authorization header: expected 'Bearer <token>'");
  const parsed = parseToken(match[1]!);
  // Only keys and sessions authenticate: an invitation's or a password reset's token proves nothing here.
  if (!parsed || (parsed.kind !== "apiKey" && parsed.kind !== "session")) throw unauthenticated("Invalid token");
  if (parsed.kind === "apiKey") {
    const [row] = await sql<{ tenant_id: string; api_key_id: string; scopes: ApiKeyScope[] }[]>`
      select tenant_id, api_key_id, scopes::text[] as scopes
        from authenticate_api_key(${parsed.tenantId}, ${parsed.id}, ${Buffer.from(parsed.secretHash)})`;
    if (!row) throw unauthenticated("Invalid, revoked or expired API key");
    return { kind: "apiKey", apiKeyId: row.api_key_id, tenantId: row.tenant_id, scopes: row.scopes };
  }
  const [row] = await sql<{ user_id: string; tenant_id: string | null; role: MemberRole | null }[]>`
    select user_id, tenant_id, role::text as role from authenticate_session(${parsed.id}, ${Buffer.from(parsed.secretHash)})`;
  if (!row) throw unauthenticated("Invalid, expired or signed-out session");
  return { kind: "user", userId: row.user_id, sessionId: parsed.id, tenantId: row.tenant_id, role: row.role };
}
