// The tenant as an issuer: its OB profile, DID and signing keys, and the mutations that change them.
import { builder } from "../../builder.js";
import { ValidationError } from "../../errors.js";
import { callerOf } from "../common/caller.js";
import { TenantRef } from "../tenants/schema.js";
import { issuerDid, verificationMethodId } from "./identity.js";
import { getProfile, rotateSigningKey, updateProfile, type IssuerSettings } from "./service.js";
import type { Context } from "../../context.js";
import { statusAllocatorFor } from "../credentials/status-lists.js";
import { mailSettings, type MailSettings } from "../delivery/compose.js";

export const issuerSettings = (ctx: Context): IssuerSettings & MailSettings => ({
  ...mailSettings(ctx.app.config),
  allocateStatus: statusAllocatorFor(ctx.app),
});


interface ProfileShape {
  tenantId: string;
  name: string;
  url: string | null;
  email: string | null;
  description: string | null;
  imageUrl: string | null;
}

const SigningKeyInfo = builder.prismaObject("SigningKey", {
  name: "SigningKeyInfo",
  fields: (t) => ({
    keyNumber: t.exposeInt("keyNumber"),
    publicKeyMultibase: t.exposeString("publicKeyMultibase"),
    verificationMethod: t.string({
      select: { tenantId: true, keyNumber: true },
      resolve: (k, _a, ctx) => verificationMethodId(issuerDid(ctx.app.config.publicUrl, k.tenantId), k.keyNumber),
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    retiredAt: t.expose("retiredAt", { type: "DateTime", nullable: true }),
  }),
});

const IssuerProfileRef = builder.objectRef<ProfileShape>("IssuerProfile").implement({
  description: "How the tenant appears as the issuer of its credentials (an OB 3.0 Profile).",
  fields: (t) => ({
    name: t.exposeString("name"),
    url: t.exposeString("url", { nullable: true }),
    email: t.exposeString("email", { nullable: true }),
    description: t.exposeString("description", { nullable: true }),
    imageUrl: t.exposeString("imageUrl", { nullable: true }),
    did: t.string({ resolve: (p, _a, ctx) => issuerDid(ctx.app.config.publicUrl, p.tenantId) }),
    profileUrl: t.string({ resolve: (p, _a, ctx) => `${ctx.app.config.publicUrl}/issuers/${p.tenantId}` }),
    didDocumentUrl: t.string({ resolve: (p, _a, ctx) => `${ctx.app.config.publicUrl}/issuers/${p.tenantId}/did.json` }),
    signingKeys: t.prismaField({
      type: [SigningKeyInfo],
      description: "Every key the issuer has had, newest first; retired ones still verify what they signed.",
      resolve: (query, p, _a, ctx) => ctx.db.signingKey.findMany({ ...query, where: { tenantId: p.tenantId }, orderBy: { keyNumber: "desc" } }),
    }),
  }),
});

builder.prismaObjectField(TenantRef, "issuer", (t) =>
  t.field({
    type: IssuerProfileRef,
    authScopes: { permission: "tenant:read" },
    select: { id: true },
    resolve: (tenant, _a, ctx) => getProfile(ctx.db, tenant.id),
  }),
);

const UpdateIssuerProfileInput = builder.inputType("UpdateIssuerProfileInput", {
  fields: (t) => ({
    name: t.string({ required: true }),
    url: t.string(),
    email: t.field({ type: "EmailAddress" }),
    description: t.string(),
    imageUrl: t.string(),
  }),
});

builder.mutationField("updateIssuerProfile", (t) =>
  t.field({
    type: IssuerProfileRef,
    authScopes: { permission: "tenant:manage" },
    errors: { types: [ValidationError] },
    args: { input: t.arg({ type: UpdateIssuerProfileInput, required: true }) },
    resolve: (_r, { input }, ctx) => updateProfile(ctx.db, callerOf(ctx), input),
  }),
);

builder.mutationField("rotateSigningKey", (t) =>
  t.prismaField({
    type: SigningKeyInfo,
    description: "Retires the signing key in use and makes a new one. Credentials signed before keep verifying.",
    authScopes: { permission: "tenant:manage" },
    resolve: (_q, _r, _a, ctx) => rotateSigningKey(ctx.db, callerOf(ctx), issuerSettings(ctx)),
  }),
);
