// Credentials: issue one, list them, revoke or suspend them.
import { GuardianConsentRequiredError } from "../privacy/processing.js";
import { builder } from "../../builder.js";
import { CredentialStatus } from "../../generated/prisma/enums.js";
import { NotFoundError, ValidationError } from "../../errors.js";
import { callerOf } from "../common/caller.js";
import { connectionComplexity, tenantKey } from "../common/nodes.js";
import { ErrorInterface, errorType } from "../common/schema.js";
import { DuplicateCredentialError } from "./duplicates.js";
import { RecipientExistsError } from "../recipients/service.js";
import { TenantRef } from "../tenants/schema.js";
import { RecipientInput } from "../recipients/schema.js";
import { TemplateNotIssuableError } from "../templates/service.js";
import { issuerSettings } from "../issuers/schema.js";
import { urls } from "./document.js";
import { openDocument, SEALED_DOCUMENT } from "./sealed-document.js";
import { tenantKeys } from "../vault/vault.js";
import { representable } from "../../lib/calendar.js";

// Stored instants are read through representable(): a row written before dates were checked (year
// 20260, say) reads as null instead of failing the whole list.
const UNREADABLE = "; null only for a date stored before dates were checked that no RFC 3339 date-time can write";
import { CredentialStateError, issueCredential, revokeCredential, setSuspended } from "./service.js";

const CredentialStatusEnum = builder.enumType(CredentialStatus, { name: "CredentialStatus" });
errorType(CredentialStateError, "CredentialStateError", "The credential is not in a state that allows this.");

export const CredentialRef = builder.prismaNode("Credential", {
  // Select mode: each field reads only its own columns (the signed document is ~2.4 kB a row).
  select: { tenantId: true, id: true },
  id: { resolve: (c) => c.id },
  nullable: true,
  findUnique: (id, ctx) => tenantKey(id, ctx),
  authScopes: { permission: "tenant:read" },
  fields: (t) => ({
    status: t.expose("status", { type: CredentialStatusEnum }),
    expired: t.boolean({ select: { validUntil: true }, resolve: (c) => Boolean(c.validUntil && c.validUntil <= new Date()) }),
    issuedAt: t.field({
      type: "DateTime",
      nullable: true,
      description: `The issue date the credential states (its validFrom), exactly as sent in IssueCredentialInput.issuedAt${UNREADABLE}`,
      select: { validFrom: true },
      resolve: (c) => representable(c.validFrom),
    }),
    validFrom: t.field({ type: "DateTime", nullable: true, description: `From when the credential is valid${UNREADABLE}`, select: { validFrom: true }, resolve: (c) => representable(c.validFrom) }),
    validUntil: t.field({ type: "DateTime", nullable: true, select: { validUntil: true }, resolve: (c) => representable(c.validUntil) }),
    revokedAt: t.expose("revokedAt", { type: "DateTime", nullable: true }),
    // Free text written about one person's credential: it may say anything about them.
    revocationReason: t.exposeString("revocationReason", { nullable: true, authScopes: { permission: "personal:read" } }),
    suspendedAt: t.expose("suspendedAt", { type: "DateTime", nullable: true }),
    templateVersion: t.relation("templateVersionRow"),
    recipient: t.relation("recipient", { nullable: true }),
    fieldValues: t.expose("fieldValues", { type: "JSON", authScopes: { permission: "personal:read" }, nullable: true }),
    // Chosen by the caller per recipient (often from their email or student number).
    idempotencyKey: t.exposeString("idempotencyKey", { nullable: true, authScopes: { permission: "personal:read" } }),
    publicUrl: t.string({ select: { tenantId: true, id: true }, resolve: (c, _a, ctx) => urls.credential(ctx.app.config.publicUrl, c.tenantId, c.id) }),
    // The signed document names the recipient (an IdentityObject of type name) and carries merged
    // field values: personal data, like the fields it was built from.
    verifiableCredential: t.field({
      type: "JSON",
      nullable: true,
      authScopes: { permission: "personal:read" },
      description: "The signed OB 3.0 credential, as published. It names the recipient: needs personal:read.",
      select: SEALED_DOCUMENT,
      resolve: async (c, _a, ctx) => openDocument(await tenantKeys(ctx.db, c.tenantId), "credentials", c),
    }),
  }),
});

// A credential's id and URL open a public page naming its holder: listing them is reading people.
builder.prismaObjectField(TenantRef, "credentials", (t) =>
  t.relatedConnection("credentials", {
    cursor: "tenantId_id",
    nullable: true,
    authScopes: { permission: "personal:read" },
    totalCount: true,
    complexity: connectionComplexity,
    args: { status: t.arg({ type: CredentialStatusEnum }) },
    query: (args) => ({ where: args.status ? { status: args.status } : {}, orderBy: [{ issuedAt: "desc" }, { id: "desc" }] }),
  }),
);

builder.objectType(DuplicateCredentialError, {
  name: "DuplicateCredentialError",
  description: "The person already holds a credential of this template that is not revoked, and its duplicate policy is REFUSE.",
  interfaces: [ErrorInterface],
  fields: (t) => ({
    existingCredential: t.field({
      type: CredentialRef,
      nullable: true,
      description: "The credential already held; null for a caller without personal:read (its id leads to a page naming the holder).",
      resolve: (e, _a, ctx) => (ctx.permissions.has("personal:read") ? e.existingCredential : null),
    }),
  }),
});

const EvidenceInput = builder.inputType("EvidenceInput", {
  fields: (t) => ({ id: t.string({ description: "URL of the evidence" }), name: t.string(), description: t.string(), narrative: t.string() }),
});

const IssueCredentialInput = builder.inputType("IssueCredentialInput", {
  fields: (t) => ({
    templateId: t.globalID({ required: true }),
    recipientId: t.globalID({ description: "An existing recipient; or give `recipient`" }),
    recipient: t.field({ type: RecipientInput, description: "Found by email, or created" }),
    fieldValues: t.field({ type: "JSON", description: "Values for the template's custom fields, by name" }),
    issuedAt: t.field({ type: "DateTime", description: "The credential's validFrom: defaults to now; 1900 to one year ahead (later: shown as not yet valid)" }),
    validUntil: t.field({ type: "DateTime", description: "Overrides the template's validity; before 2200" }),
    evidence: t.field({ type: [EvidenceInput] }),
    idempotencyKey: t.string({ description: "Issuing twice with the same key returns the first credential" }),
  }),
});

builder.mutationField("issueCredential", (t) =>
  t.prismaField({
    type: CredentialRef,
    authScopes: { permission: "issue" },
    errors: { types: [ValidationError, NotFoundError, TemplateNotIssuableError, RecipientExistsError, DuplicateCredentialError, GuardianConsentRequiredError] },
    args: { input: t.arg({ type: IssueCredentialInput, required: true }) },
    resolve: (_q, _r, { input }, ctx) => {
      if (input.templateId.typename !== "Template") throw new NotFoundError("Template");
      if (input.recipientId && input.recipientId.typename !== "Recipient") throw new NotFoundError("Recipient");
      return issueCredential(
        ctx.db,
        callerOf(ctx),
        {
          ...input,
          templateId: input.templateId.id,
          recipientId: input.recipientId?.id ?? null,
          recipient: input.recipient ? { ...input.recipient, attributes: input.recipient.attributes as Record<string, unknown> | null } : null,
          fieldValues: (input.fieldValues ?? null) as Record<string, unknown> | null,
        },
        issuerSettings(ctx),
      );
    },
  }),
);

const RevokeCredentialInput = builder.inputType("RevokeCredentialInput", {
  fields: (t) => ({
    reason: t.string({ required: true, description: "Public: published as the hosted OB 2.0 Assertion's revocationReason, and told to the recipient when notified" }),
    notifyRecipient: t.boolean({ defaultValue: false }),
  }),
});

builder.mutationField("revokeCredential", (t) =>
  t.prismaField({
    type: CredentialRef,
    description: "Permanent: the credential's bit is set in the published revocation list.",
    authScopes: { permission: "issue" },
    errors: { types: [ValidationError, NotFoundError, CredentialStateError] },
    args: { id: t.arg.globalID({ required: true, for: CredentialRef }), input: t.arg({ type: RevokeCredentialInput, required: true }) },
    resolve: (_q, _r, { id, input }, ctx) => revokeCredential(ctx.db, callerOf(ctx), id.id, input, issuerSettings(ctx)),
  }),
);

for (const [name, suspended] of [["suspendCredential", true], ["unsuspendCredential", false]] as const) {
  builder.mutationField(name, (t) =>
    t.prismaField({
      type: CredentialRef,
      authScopes: { permission: "issue" },
      errors: { types: [NotFoundError, CredentialStateError] },
      args: { id: t.arg.globalID({ required: true, for: CredentialRef }) },
      resolve: (_q, _r, { id }, ctx) => setSuspended(ctx.db, callerOf(ctx), id.id, suspended, issuerSettings(ctx)),
    }),
  );
}
