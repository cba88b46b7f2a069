// API keys for partner integrations: the secret is shown once, stored as a hash, revocable, scoped.
import type { Db } from "../../db/tenant-transaction.js";
import type { ApiKeyScope } from "../../generated/prisma/enums.js";
import { NotFoundError, ValidationError } from "../../errors.js";
import { recordAudit } from "../audit/service.js";
import { isUuid, type Caller } from "../common/caller.js";
import { assertMayGrant, permissionsForScopes } from "../auth/permissions.js";
import { issueToken } from "../auth/tokens.js";
import { rangeProblem } from "../../lib/calendar.js";

export interface CreateApiKeyInput {
  name: string;
  scopes: ApiKeyScope[];
  expiresAt?: Date | null;
}

export async function createApiKey(db: Db, caller: Caller, input: CreateApiKeyInput) {
  const name = input.name.trim();
  if (name.length < 1 || name.length > 100) throw ValidationError.field(["input", "name"], "Name must have 1 to 100 characters");
  const scopes = [...new Set(input.scopes)];
  if (scopes.length === 0) throw ValidationError.field(["input", "scopes"], "Give the key at least one scope");
  if (input.expiresAt && input.expiresAt <= new Date()) {
    throw ValidationError.field(["input", "expiresAt"], "The expiry must be in the future");
  }
  if (input.expiresAt && rangeProblem(input.expiresAt)) throw ValidationError.field(["input", "expiresAt"], rangeProblem(input.expiresAt)!);
  // A caller cannot mint a key that may do more than the caller itself.
  assertMayGrant(caller.permissions, permissionsForScopes(scopes), `the scopes ${scopes.join(", ")}`);
  // Nor one that outlives it: a key made by an expiring key expires no later than its maker.
  if (caller.actor.kind === "api_key" && caller.actor.id) {
    const maker = await db.apiKey.findUnique({ where: { tenantId_id: { tenantId: caller.tenantId, id: caller.actor.id } }, select: { expiresAt: true } });
    if (maker?.expiresAt && (!input.expiresAt || input.expiresAt > maker.expiresAt)) {
      throw ValidationError.field(["input", "expiresAt"], `A key cannot outlive the key that creates it: give an expiry no later than ${maker.expiresAt.toISOString()}`);
    }
  }
  const issued = issueToken("apiKey", caller.tenantId);
  const apiKey = await db.apiKey.create({
    data: {
      tenantId: caller.tenantId,
      id: issued.id,
      name,
      prefix: issued.displayPrefix,
      secretHash: issued.secretHash,
      scopes,
      createdByUserId: caller.actor.kind === "user" ? caller.actor.id : null,
      expiresAt: input.expiresAt ?? null,
    },
  });
  await recordAudit(db, caller, {
    action: "api_key.created",
    targetType: "ApiKey",
    targetId: apiKey.id,
    details: { name, scopes, expiresAt: input.expiresAt?.toISOString() ?? null },
  });
  return { apiKey, secret: issued.token };
}

export async function revokeApiKey(db: Db, caller: Caller, id: string) {
  const key = isUuid(id) ? await db.apiKey.findUnique({ where: { tenantId_id: { tenantId: caller.tenantId, id } } }) : null;
  if (!key) throw new NotFoundError("ApiKey");
  if (key.revokedAt) return key;
  const revoked = await db.apiKey.update({
    where: { tenantId_id: { tenantId: caller.tenantId, id } },
    data: { revokedAt: new Date() },
  });
  await recordAudit(db, caller, { action: "api_key.revoked", targetType: "ApiKey", targetId: id, details: { name: key.name } });
  return revoked;
}
