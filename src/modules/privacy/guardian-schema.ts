// A guardian's consent for a child as GraphQL: staff (privacy:manage) ask for it and may withdraw it; the
// guardian gives it through their one-time link (guardian.ts). Issuance refuses a child without it.
import { builder } from "../../builder.js";
import { guardianContactOf, SEALED_GUARDIAN } from "./sealed.js";
import { GuardianConsentState, PrivacyChoiceKind, PrivacyChoiceSource } from "../../generated/prisma/enums.js";
import { encodeGlobalID } from "@pothos/plugin-relay";
import { NotFoundError, ValidationError } from "../../errors.js";
import { callerOf } from "../common/caller.js";
import { tenantKey } from "../common/nodes.js";
import { errorType } from "../common/schema.js";
import { RecipientRef } from "../recipients/schema.js";
import { AlreadyErasedError } from "./erasure.js";
import { GuardianConsentStateError, askGuardianForConsent, withdrawGuardianConsent } from "./guardian.js";
import { GuardianConsentRequiredError } from "./processing.js";

errorType(GuardianConsentRequiredError, "GuardianConsentRequiredError", "The recipient is a child under 13 without a guardian's recorded consent: nothing is issued to them (GDPR Art. 8).");
errorType(GuardianConsentStateError, "GuardianConsentStateError", "The consent is not in a state that allows this (already given, withdrawn or expired).");

const StateEnum = builder.enumType(GuardianConsentState, { name: "GuardianConsentState", description: "pending -> given -> withdrawn; pending -> expired" });

export const GuardianConsentRef = builder.prismaNode("GuardianConsent", {
  id: { resolve: (c) => c.id },
  nullable: true,
  findUnique: (id, ctx) => tenantKey(id, ctx),
  authScopes: { permission: "privacy:manage" },
  fields: (t) => ({
    recipient: t.relation("recipient"),
    guardianEmail: t.string({ nullable: true, select: SEALED_GUARDIAN, description: "Normalised; null once the child was erased", resolve: async (c, _a, ctx) => (await guardianContactOf(ctx.db, c.tenantId, c)).guardianEmail }),
    guardianName: t.string({ nullable: true, select: SEALED_GUARDIAN, resolve: async (c, _a, ctx) => (await guardianContactOf(ctx.db, c.tenantId, c)).guardianName }),
    wording: t.exposeString("wording", { description: "The exact text the guardian is shown and agrees to" }),
    wordingVersion: t.exposeString("wordingVersion"),
    state: t.expose("state", { type: StateEnum }),
    requestedAt: t.expose("requestedAt", { type: "DateTime" }),
    expiresAt: t.expose("expiresAt", { type: "DateTime" }),
    givenAt: t.expose("givenAt", { type: "DateTime", nullable: true }),
    givenVia: t.exposeString("givenVia", { nullable: true, description: "email_link (the guardian's own link) or staff" }),
    withdrawnAt: t.expose("withdrawnAt", { type: "DateTime", nullable: true }),
  }),
});

const ChoiceEnum = builder.enumType(PrivacyChoiceKind, { name: "PrivacyChoiceKind", description: "tracking_consent (Art. 7(3)), restriction (18), objection (21), child and guardian_consent (8)" });
const ChoiceSourceEnum = builder.enumType(PrivacyChoiceSource, { name: "PrivacyChoiceSource" });

const PrivacyChoiceRef = builder.prismaObject("PrivacyChoice", {
  description: "One entry of a person's privacy history: what was chosen, when, and by whom or which request. Never rewritten.",
  fields: (t) => ({
    choice: t.expose("choice", { type: ChoiceEnum }),
    value: t.exposeBoolean("value", { description: "Consent given (true) or withdrawn; a restriction, objection or child mark set (true) or lifted" }),
    madeAt: t.expose("madeAt", { type: "DateTime" }),
    source: t.expose("source", { type: ChoiceSourceEnum }),
    actorKind: t.exposeString("actorKind", { description: "user, api_key or system (a guardian's link)" }),
    requestId: t.id({ nullable: true, description: "The data subject request that asked for it", resolve: (c) => (c.requestId ? encodeGlobalID("DataSubjectRequest", c.requestId) : null) }),
    guardianConsentId: t.id({ nullable: true, resolve: (c) => (c.guardianConsentId ? encodeGlobalID("GuardianConsent", c.guardianConsentId) : null) }),
  }),
});

builder.prismaObjectFields(RecipientRef, (t) => ({
  privacyHistory: t.relation("privacyChoices", {
    type: PrivacyChoiceRef,
    authScopes: { permission: "privacy:manage" },
    description: "The person's privacy choices, oldest first (at most 200)",
    query: { orderBy: [{ madeAt: "asc" }, { id: "asc" }], take: 200 },
  }),
  guardianConsents: t.relation("guardianConsents", {
    authScopes: { permission: "privacy:manage" },
    description: "Requests for a guardian's consent, newest first",
    query: { orderBy: [{ requestedAt: "desc" }, { id: "desc" }], take: 20 },
  }),
}));

const RequestGuardianConsentInput = builder.inputType("RequestGuardianConsentInput", {
  fields: (t) => ({
    recipientId: t.globalID({ required: true, description: "The child (marked, or under 13 by birth date)" }),
    guardianEmail: t.field({ type: "EmailAddress", required: true }),
    guardianName: t.string({ required: true, description: "1 to 200 characters, one line" }),
  }),
});

builder.mutationField("requestGuardianConsent", (t) =>
  t.prismaField({
    type: GuardianConsentRef,
    description: "Asks a child's parent or guardian for consent (GDPR Art. 8): a pending record with the wording shown; the guardian gives it through a one-time link.",
    authScopes: { permission: "privacy:manage" },
    errors: { types: [ValidationError, NotFoundError, AlreadyErasedError] },
    args: { input: t.arg({ type: RequestGuardianConsentInput, required: true }) },
    resolve: (_q, _r, { input }, ctx) => {
      if (input.recipientId.typename !== "Recipient") throw new NotFoundError("Recipient");
      return askGuardianForConsent(ctx.db, ctx.app.config, callerOf(ctx), { ...input, recipientId: input.recipientId.id });
    },
  }),
);

builder.mutationField("withdrawGuardianConsent", (t) =>
  t.prismaField({
    type: GuardianConsentRef,
    description: "Records that the guardian withdrew consent (GDPR Art. 7(3)): nothing new is issued, emailed or tracked for the child. On a pending consent (asked, not given) it calls the request off: its link stops working.",
    authScopes: { permission: "privacy:manage" },
    errors: { types: [NotFoundError, GuardianConsentStateError] },
    args: { id: t.arg.globalID({ required: true, for: GuardianConsentRef }) },
    resolve: (_q, _r, { id }, ctx) => withdrawGuardianConsent(ctx.db, callerOf(ctx), id.id),
  }),
);
