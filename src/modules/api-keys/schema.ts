// API keys: listed on the tenant, created (secret shown once) and revoked.
import { builder } from "../../builder.js";
import { ApiKeyScope } from "../../generated/prisma/enums.js";
import { NotFoundError, ValidationError } from "../../errors.js";
import { callerOf } from "../common/caller.js";
import { connectionComplexity, tenantKey } from "../common/nodes.js";
import { TenantRef } from "../tenants/schema.js";
import { createApiKey, revokeApiKey } from "./service.js";
import { forgetCallersAfterCommit } from "../auth/auth-cache.js";

export const ApiKeyScopeEnum = builder.enumType(ApiKeyScope, { name: "ApiKeyScope" });

export const ApiKeyRef = builder.prismaNode("ApiKey", {
  id: { resolve: (k) => k.id },
  nullable: true, // node(id) of a row this tenant cannot see is null, exactly as for an unknown id
  findUnique: (id, ctx) => tenantKey(id, ctx),
  authScopes: { permission: "apikeys:manage" },
  fields: (t) => ({
    name: t.exposeString("name"),
    prefix: t.exposeString("prefix", { description: "The token's first characters, to tell keys apart; not secret" }),
    scopes: t.expose("scopes", { type: [ApiKeyScopeEnum] }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    expiresAt: t.expose("expiresAt", { type: "DateTime", nullable: true }),
    lastUsedAt: t.expose("lastUsedAt", {
      type: "DateTime",
      nullable: true,
      description: "Updated at most once a minute",
    }),
    revokedAt: t.expose("revokedAt", { type: "DateTime", nullable: true }),
    // Reachable by any key through viewer.apiKey: who made it is a member's identity.
    createdBy: t.relation("createdBy", { nullable: true, authScopes: { permission: "members:read" } }),
  }),
});

builder.prismaObjectField(TenantRef, "apiKeys", (t) =>
  t.relatedConnection("apiKeys", {
    cursor: "tenantId_id",
    nullable: true,
    authScopes: { permission: "apikeys:manage" },
    totalCount: true,
    complexity: connectionComplexity,
    args: { includeRevoked: t.arg.boolean({ defaultValue: false }) },
    query: (args) => ({
      where: args.includeRevoked ? {} : { revokedAt: null },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    }),
  }),
);

const CreateApiKeyInput = builder.inputType("CreateApiKeyInput", {
  fields: (t) => ({
    name: t.string({ required: true }),
    scopes: t.field({ type: [ApiKeyScopeEnum], required: true }),
    expiresAt: t.field({ type: "DateTime" }),
  }),
});

const CreateApiKeyPayload = builder.simpleObject("CreateApiKeyPayload", {
  fields: (t) => ({
    apiKey: t.field({ type: ApiKeyRef }),
    secret: t.string({ description: "The full key. Shown this once: Laurel keeps only its hash." }),
  }),
});

builder.mutationField("createApiKey", (t) =>
  t.field({
    type: CreateApiKeyPayload,
    authScopes: { permission: "apikeys:manage" },
    errors: { types: [ValidationError] },
    args: { input: t.arg({ type: CreateApiKeyInput, required: true }) },
    resolve: (_root, { input }, ctx) => createApiKey(ctx.db, callerOf(ctx), { ...input, expiresAt: input.expiresAt ?? null }),
  }),
);

builder.mutationField("revokeApiKey", (t) =>
  t.prismaField({
    type: "ApiKey",
    authScopes: { permission: "apikeys:manage" },
    errors: { types: [NotFoundError] },
    args: { id: t.arg.globalID({ required: true, for: ApiKeyRef }) },
    resolve: (_query, _root, { id }, ctx) => {
      forgetCallersAfterCommit(ctx, (v) => v.kind === "apiKey" && v.apiKeyId === id.id);
      return revokeApiKey(ctx.db, callerOf(ctx), id.id);
    },
  }),
);
