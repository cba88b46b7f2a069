// Rectification as GraphQL: rectifyRecipient (privacy:manage), a person's corrections
// (Recipient.rectifications), a credential's earlier documents (Credential.documentHistory) and what a
// rectification request asks for (DataSubjectRequest.requestedChanges). Values name people: personal:read.
import { builder } from "../../builder.js";
import { openDocument, SEALED_DOCUMENT } from "../credentials/sealed-document.js";
import { tenantKeys } from "../vault/vault.js";
import { rectificationOf, requestedChangesOf, SEALED_RECTIFICATION } from "./sealed.js";

const SEALED_RECTIFICATION_T = { ...SEALED_RECTIFICATION, tenantId: true } as const;
import { ActorKindEnum } from "../audit/schema.js";
import { NotFoundError, ValidationError } from "../../errors.js";
import { GuardianConsentRequiredError } from "./processing.js";
import { callerOf } from "../common/caller.js";
import { CredentialRef } from "../credentials/schema.js";
import { urls } from "../credentials/document.js";
import { issuerSettings } from "../issuers/schema.js";
import { RecipientRef } from "../recipients/schema.js";
import { RecipientExistsError } from "../recipients/service.js";
import { AlreadyErasedError } from "./erasure.js";
import { rectifyRecipient, requestedCorrection } from "./rectification.js";
import { DataSubjectRequestRef } from "./schema.js";


const RectificationFieldEnum = builder.enumType("RectifiedField", { values: ["name", "email"] as const });

export const RecipientRectificationRef = builder.prismaObject("RecipientRectification", {
  description: "One correction of a person's name and/or email (GDPR Art. 16). Values are null once the person is erased.",
  authScopes: { permission: "personal:read" },
  fields: (t) => ({
    id: t.exposeID("id"),
    rectifiedAt: t.expose("rectifiedAt", { type: "DateTime" }),
    changed: t.field({ type: [RectificationFieldEnum], select: { changed: true }, resolve: (r) => r.changed as ("name" | "email")[] }),
    oldName: t.string({ nullable: true, select: SEALED_RECTIFICATION_T, resolve: async (r, _a, ctx) => (await rectificationOf(ctx.db, r.tenantId, r)).oldName }),
    newName: t.string({ nullable: true, select: SEALED_RECTIFICATION_T, resolve: async (r, _a, ctx) => (await rectificationOf(ctx.db, r.tenantId, r)).newName }),
    oldEmail: t.string({ nullable: true, select: SEALED_RECTIFICATION_T, resolve: async (r, _a, ctx) => (await rectificationOf(ctx.db, r.tenantId, r)).oldEmail }),
    newEmail: t.string({ nullable: true, select: SEALED_RECTIFICATION_T, resolve: async (r, _a, ctx) => (await rectificationOf(ctx.db, r.tenantId, r)).newEmail }),
    actorKind: t.expose("actorKind", { type: ActorKindEnum }),
    actorId: t.exposeID("actorId", { nullable: true, description: "The user's or API key's id (raw UUID, as in the audit log)" }),
    credentialsReissued: t.exposeInt("credentialsReissued"),
    recipient: t.relation("recipient", { nullable: true }),
    request: t.relation("request", { nullable: true, description: "The rectification request this correction answered" }),
  }),
});

builder.prismaObject("CredentialDocument", {
  description: "A signed document a credential had before its current one, kept as published; its revocation entry is set since it was superseded.",
  fields: (t) => ({
    document: t.field({
      type: "JSON",
      description: "The signed OB 3.0 credential as it was published ({} once its holder was erased)",
      select: SEALED_DOCUMENT,
      resolve: async (d, _a, ctx) => openDocument(await tenantKeys(ctx.db, d.tenantId), "credential_documents", d) ?? {},
    }),
    statusListCredential: t.string({
      select: { tenantId: true, statusListId: true },
      resolve: (d, _a, ctx) => urls.statusList(ctx.app.config.publicUrl, d.tenantId, d.statusListId),
    }),
    statusListIndex: t.exposeInt("statusIndex"),
    signedAt: t.expose("signedAt", { type: "DateTime" }),
    supersededAt: t.expose("supersededAt", { type: "DateTime" }),
    supersededReason: t.exposeString("supersededReason"),
    rectification: t.relation("rectification", { nullable: true }),
  }),
});

builder.prismaObjectField(CredentialRef, "documentHistory", (t) =>
  t.relation("documents", {
    nullable: true,
    authScopes: { permission: "personal:read" },
    description: "Every signed document this credential had before its current one (verifiableCredential), oldest first. They name the holder: needs personal:read.",
    query: { orderBy: [{ supersededAt: "asc" }, { id: "asc" }] },
  }),
);

builder.prismaObjectField(RecipientRef, "rectifications", (t) =>
  t.relation("rectifications", {
    description: "Corrections of this person's name and email, oldest first.",
    query: { orderBy: [{ rectifiedAt: "asc" }, { id: "asc" }] },
  }),
);

const RequestedChangesRef = builder.simpleObject("RequestedChanges", {
  fields: (t) => ({ name: t.string({ nullable: true }), email: t.string({ nullable: true }) }),
});

builder.prismaObjectField(DataSubjectRequestRef, "requestedChanges", (t) =>
  t.field({
    type: RequestedChangesRef,
    nullable: true,
    description: "Rectification: the corrected name and/or email asked for (null once the person is erased)",
    select: { tenantId: true, id: true, keyVersion: true, requestedChangesSealed: true, legacyRequestedChanges: true },
    resolve: async (r, _a, ctx) => {
      const c = requestedCorrection(await requestedChangesOf(ctx.db, r.tenantId, r));
      return c ? { name: c.name ?? null, email: c.email ?? null } : null;
    },
  }),
);

const RectifyRecipientInput = builder.inputType("RectifyRecipientInput", {
  fields: (t) => ({
    recipientId: t.globalID({ required: true }),
    name: t.string({ description: "The corrected name: 1 to 200 characters, one line (stored in NFC)" }),
    email: t.field({ type: "EmailAddress", description: "The corrected address" }),
    requestId: t.globalID({ description: "The person's rectification request this answers; it is completed" }),
  }),
});

builder.mutationField("rectifyRecipient", (t) =>
  t.prismaField({
    type: RecipientRectificationRef,
    description:
      "Corrects a person's name and/or email (GDPR Art. 16): re-issues each of their current credentials at the same URL (the old documents are revoked as superseded and kept), records the correction, and emails the person (and, when the address changed, the old address, naming no new one).",
    authScopes: { permission: "privacy:manage" },
    errors: { types: [ValidationError, NotFoundError, AlreadyErasedError, RecipientExistsError, GuardianConsentRequiredError] },
    args: { input: t.arg({ type: RectifyRecipientInput, required: true }) },
    resolve: (_q, _r, { input }, ctx) => {
      if (input.recipientId.typename !== "Recipient") throw new NotFoundError("Recipient");
      if (input.requestId && input.requestId.typename !== "DataSubjectRequest") throw new NotFoundError("DataSubjectRequest");
      return rectifyRecipient(ctx.db, callerOf(ctx), { ...input, recipientId: input.recipientId.id, requestId: input.requestId?.id ?? null }, issuerSettings(ctx));
    },
  }),
);
