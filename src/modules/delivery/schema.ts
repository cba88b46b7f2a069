// Email delivery as the dashboard sees it: messages and their delivery status, sender settings and
// domains, email content per template and language, reminders, resending, and failed background jobs.
import { builder } from "../../builder.js";
import { EmailStatus } from "../../generated/prisma/enums.js";
import { NotFoundError, ValidationError } from "../../errors.js";
import { encodeGlobalID } from "@pothos/plugin-relay";
import { callerOf, isUuid } from "../common/caller.js";
import { connectionComplexity, NIL_UUID, tenantKey } from "../common/nodes.js";
import { TenantRef } from "../tenants/schema.js";
import { CredentialRef } from "../credentials/schema.js";
import { RecipientRef } from "../recipients/schema.js";
import { TemplateRef } from "../templates/schema.js";
import { EMAIL_KINDS, MERGE_FIELDS } from "./content.js";
import { EngagementCountRef } from "../engagement/schema.js";
import { AlreadyErasedError } from "../privacy/erasure.js";
import { messageOf, SEALED_MESSAGE } from "./sealed-outbox.js";
import {
  addSenderDomain, deleteEmailTemplate, emailSettings, resendCredentialEmail, retryJob, setEmailTemplate, tenantJobs,
  updateEmailSettings, updateRecipientPrivacy, verifySenderDomain, type BackgroundJob,
} from "./service.js";

const EmailStatusEnum = builder.enumType("EmailStatus", {
  description: "Where a message is: queued → sending → sent → delivered / bounced / complained, or failed; stored in the demo outbox",
  values: {
    queued: { value: EmailStatus.queued, description: "Waiting for its send job (also after a refusal worth retrying)" },
    sending: { value: EmailStatus.sending, description: "Handed to the provider; while its answer is unknown, the same request is made again" },
    stored: { value: EmailStatus.stored, description: "Kept in the demo outbox (no RESEND_API_KEY): it never left the machine and reached nobody" },
    sent: { value: EmailStatus.sent, description: "Accepted by the provider" },
    delivered: { value: EmailStatus.delivered, description: "The recipient's mail server took it (the provider's webhook)" },
    bounced: { value: EmailStatus.bounced, description: "The recipient's mail server refused it" },
    complained: { value: EmailStatus.complained, description: "The recipient marked it as spam" },
    failed: { value: EmailStatus.failed, description: "Refused by the provider, or every retry ran out" },
    withheld: { value: EmailStatus.withheld, description: "Never sent: the person's privacy choices stopped it after it was queued (statusDetail says which)" },
  } as const,
});
const EmailKindEnum = builder.enumType("EmailKind", { values: EMAIL_KINDS });
// Never delivered, or not yet: everything but sent (on its way) and delivered.
const UNDELIVERED = ["queued", "sending", "stored", "failed", "withheld", "bounced", "complained"] as const;

export const EmailMessageRef = builder.prismaNode("EmailOutbox", {
  name: "EmailMessage",
  id: { resolve: (m) => m.id },
  nullable: true,
  findUnique: (id, ctx) => tenantKey(id, ctx),
  authScopes: { permission: "personal:read" },
  fields: (t) => ({
    kind: t.exposeString("kind"),
    toEmail: t.string({
      nullable: true,
      description: "Null only when the stored value does not open (altered or moved: error SEALED_VALUE_UNREADABLE).",
      select: SEALED_MESSAGE,
      resolve: async (m, _a, ctx) => (await messageOf(ctx.db, m.tenantId, m)).toEmail,
    }),
    locale: t.exposeString("locale"),
    status: t.expose("status", { type: EmailStatusEnum }),
    statusDetail: t.exposeString("statusDetail", { nullable: true, description: "The provider's words on a bounce or failure" }),
    attempts: t.exposeInt("attempts"),
    lastError: t.string({ nullable: true, select: SEALED_MESSAGE, resolve: async (m, _a, ctx) => (await messageOf(ctx.db, m.tenantId, m)).lastError }),
    provider: t.exposeString("provider", { nullable: true, description: "resend, or log when no RESEND_API_KEY is set (the demo outbox)" }),
    providerMessageId: t.exposeString("providerMessageId", { nullable: true }),
    from: t.exposeString("fromAddress", { nullable: true }),
    subject: t.string({ nullable: true, select: SEALED_MESSAGE, resolve: async (m, _a, ctx) => (await messageOf(ctx.db, m.tenantId, m)).subject }),
    html: t.string({ nullable: true, select: SEALED_MESSAGE, resolve: async (m, _a, ctx) => (await messageOf(ctx.db, m.tenantId, m)).html, description: "Kept for stored messages (the demo outbox) only, never for an invitation" }),
    text: t.string({ nullable: true, select: SEALED_MESSAGE, resolve: async (m, _a, ctx) => (await messageOf(ctx.db, m.tenantId, m)).text, description: "Kept for stored messages (the demo outbox) only, never for an invitation" }),
    credentialId: t.id({ nullable: true, select: { credentialId: true }, description: "The credential's global id", resolve: (m) => (m.credentialId ? encodeGlobalID("Credential", m.credentialId) : null) }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    sentAt: t.expose("sentAt", { type: "DateTime", nullable: true, description: "When the provider accepted it; null for a stored message, which was never sent" }),
    deliveredAt: t.expose("deliveredAt", { type: "DateTime", nullable: true }),
    bouncedAt: t.expose("bouncedAt", { type: "DateTime", nullable: true }),
    complainedAt: t.expose("complainedAt", { type: "DateTime", nullable: true }),
    openedAt: t.expose("openedAt", { type: "DateTime", nullable: true }),
    clickedAt: t.expose("clickedAt", { type: "DateTime", nullable: true }),
  }),
});

builder.prismaObjectField(TenantRef, "emailMessages", (t) =>
  t.relatedConnection("outbox", {
    cursor: "tenantId_id",
    nullable: true,
    authScopes: { permission: "personal:read" },
    totalCount: true,
    complexity: connectionComplexity,
    args: {
      status: t.arg({ type: [EmailStatusEnum] }),
      undelivered: t.arg.boolean({ description: "Only messages not (yet) delivered: queued, sending, stored, failed, bounced, complained" }),
      credentialId: t.arg.globalID({ description: "Only this credential's messages (its global id)" }),
    },
    query: ({ status, undelivered, credentialId }) => ({
      where: {
        ...(status?.length ? { status: { in: status } } : undelivered ? { status: { in: [...UNDELIVERED] } } : {}),
        // Not a credential's id: nothing matches, as for another tenant's credential.
        ...(credentialId ? { credentialId: credentialId.typename === "Credential" && isUuid(credentialId.id) ? credentialId.id : NIL_UUID } : {}),
      },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    }),
  }),
);

const SenderDomainRef = builder.prismaNode("SenderDomain", {
  id: { resolve: (d) => d.id },
  nullable: true,
  findUnique: (id, ctx) => tenantKey(id, ctx),
  authScopes: { permission: "tenant:read" },
  fields: (t) => ({
    domain: t.exposeString("domain"),
    status: t.exposeString("status", { description: "pending, verified or failed" }),
    dnsRecords: t.expose("dnsRecords", { type: "JSON", description: "The records to publish, as Resend gave them" }),
    verifiedAt: t.expose("verifiedAt", { type: "DateTime", nullable: true }),
  }),
});

builder.prismaObject("EmailSettings", {
  fields: (t) => ({
    fromName: t.exposeString("fromName", { nullable: true }),
    fromAddress: t.exposeString("fromAddress", { nullable: true, description: "Used only while its domain is verified" }),
    replyTo: t.exposeString("replyTo", { nullable: true }),
    defaultLocale: t.exposeString("defaultLocale"),
    senderDomains: t.prismaField({
      type: ["SenderDomain"],
      resolve: (query, s, _a, ctx) => ctx.db.senderDomain.findMany({ ...query, where: { tenantId: s.tenantId }, orderBy: { createdAt: "asc" } }),
    }),
  }),
});

builder.objectField(TenantRef, "emailSettings", (t) =>
  t.prismaField({ type: "EmailSettings", authScopes: { permission: "tenant:read" }, resolve: (_q, tenant, _a, ctx) => emailSettings(ctx.db, tenant.id) as never }),
);

const EmailTemplateRef = builder.prismaNode("EmailTemplate", {
  id: { resolve: (e) => e.id },
  nullable: true,
  findUnique: (id, ctx) => tenantKey(id, ctx),
  authScopes: { permission: "tenant:read" },
  fields: (t) => ({
    templateId: t.exposeID("templateId", { nullable: true, description: "null: the tenant's default for every template" }),
    kind: t.exposeString("kind"),
    locale: t.exposeString("locale"),
    subject: t.exposeString("subject"),
    html: t.exposeString("html"),
    text: t.exposeString("text"),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
  }),
});

builder.objectField(TenantRef, "emailTemplates", (t) =>
  t.prismaField({
    type: ["EmailTemplate"],
    authScopes: { permission: "tenant:read" },
    resolve: (query, tenant, _a, ctx) => ctx.db.emailTemplate.findMany({ ...query, where: { tenantId: tenant.id }, orderBy: [{ kind: "asc" }, { locale: "asc" }] }),
  }),
);

builder.queryField("emailMergeFields", (t) =>
  t.stringList({ description: "Merge fields an email template may use, as {{field}}", resolve: () => [...MERGE_FIELDS] }),
);

const BackgroundJobRef = builder.objectRef<BackgroundJob>("BackgroundJob").implement({
  description: "A job that failed at least once; failed = true once it has used every attempt.",
  fields: (t) => ({
    id: t.exposeID("id"),
    task: t.exposeString("task"),
    attempts: t.exposeInt("attempts"),
    maxAttempts: t.exposeInt("maxAttempts"),
    failed: t.exposeBoolean("failed"),
    lastError: t.exposeString("lastError", { nullable: true }),
    runAt: t.expose("runAt", { type: "DateTime" }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    payload: t.expose("payload", { type: "JSON" }),
  }),
});

builder.objectField(TenantRef, "failingJobs", (t) =>
  t.field({
    type: [BackgroundJobRef],
    authScopes: { permission: "tenant:manage" },
    args: { failedOnly: t.arg.boolean({ defaultValue: false }) },
    resolve: (_tenant, { failedOnly }, ctx) => tenantJobs(ctx.db, failedOnly ?? false),
  }),
);

const EmailSettingsInput = builder.inputType("EmailSettingsInput", {
  fields: (t) => ({
    fromName: t.string(),
    fromAddress: t.field({ type: "EmailAddress", description: "Must be on a verified sender domain" }),
    replyTo: t.field({ type: "EmailAddress" }),
    defaultLocale: t.string(),
  }),
});

builder.mutationField("updateEmailSettings", (t) =>
  t.prismaField({
    type: "EmailSettings",
    authScopes: { permission: "tenant:manage" },
    errors: { types: [ValidationError] },
    args: { input: t.arg({ type: EmailSettingsInput, required: true }) },
    resolve: (_q, _r, { input }, ctx) => updateEmailSettings(ctx.db, callerOf(ctx), input),
  }),
);

builder.mutationField("addSenderDomain", (t) =>
  t.prismaField({
    type: "SenderDomain",
    authScopes: { permission: "tenant:manage" },
    errors: { types: [ValidationError] },
    args: { domain: t.arg.string({ required: true }) },
    resolve: (_q, _r, { domain }, ctx) => addSenderDomain(ctx.db, callerOf(ctx), ctx.app.config, domain),
  }),
);

builder.mutationField("verifySenderDomain", (t) =>
  t.prismaField({
    type: "SenderDomain",
    authScopes: { permission: "tenant:manage" },
    errors: { types: [NotFoundError, ValidationError] },
    args: { id: t.arg.globalID({ required: true, for: SenderDomainRef }) },
    resolve: (_q, _r, { id }, ctx) => verifySenderDomain(ctx.db, callerOf(ctx), ctx.app.config, id.id),
  }),
);

const EmailTemplateInput = builder.inputType("EmailTemplateInput", {
  fields: (t) => ({
    templateId: t.globalID({ for: TemplateRef, description: "Omit for the tenant's default" }),
    kind: t.field({ type: EmailKindEnum, required: true }),
    locale: t.string({ required: true }),
    subject: t.string({ required: true }),
    html: t.string({ required: true }),
    text: t.string({ required: true }),
  }),
});

builder.mutationField("setEmailTemplate", (t) =>
  t.prismaField({
    type: "EmailTemplate",
    description: "Creates or replaces the content for (template, kind, locale). Merge fields: see emailMergeFields.",
    authScopes: { permission: "issue" },
    errors: { types: [ValidationError] },
    args: { input: t.arg({ type: EmailTemplateInput, required: true }) },
    resolve: (_q, _r, { input }, ctx) => setEmailTemplate(ctx.db, callerOf(ctx), { ...input, templateId: input.templateId?.id ?? null }),
  }),
);

builder.mutationField("deleteEmailTemplate", (t) =>
  t.prismaField({
    type: "EmailTemplate",
    authScopes: { permission: "issue" },
    errors: { types: [NotFoundError] },
    args: { id: t.arg.globalID({ required: true, for: EmailTemplateRef }) },
    resolve: (query, _r, { id }, ctx) => deleteEmailTemplate(ctx.db, callerOf(ctx), id.id, query),
  }),
);

builder.mutationField("resendCredentialEmail", (t) =>
  t.prismaField({
    type: "EmailOutbox",
    authScopes: { permission: "issue" },
    errors: { types: [NotFoundError, ValidationError] },
    args: { credentialId: t.arg.globalID({ required: true, for: CredentialRef }) },
    resolve: (_q, _r, { credentialId }, ctx) => resendCredentialEmail(ctx.db, callerOf(ctx), ctx.app.config, credentialId.id),
  }),
);

const RetryJobPayload = builder.simpleObject("RetryJobPayload", {
  fields: (t) => ({ jobId: t.id(), retried: t.boolean() }),
});

builder.mutationField("retryJob", (t) =>
  t.field({
    type: RetryJobPayload,
    description: "Gives a failed job a fresh set of attempts, now.",
    authScopes: { permission: "tenant:manage" },
    errors: { types: [NotFoundError] },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_r, { id }, ctx) => ({ jobId: String(id), retried: await retryJob(ctx.db, callerOf(ctx), String(id)) }),
  }),
);

const RecipientPrivacyInput = builder.inputType("RecipientPrivacyInput", {
  fields: (t) => ({
    trackingConsent: t.boolean({ description: "false: consent to tracking withdrawn (GDPR Art. 7(3)): no tracking pixel, no per-person events (counted only in aggregate)" }),
    restricted: t.boolean({ description: "Processing restricted (GDPR Art. 18): stored only; no emails, reminders, partner events or tracking" }),
    objectsToReminders: t.boolean({ description: "Objection (GDPR Art. 21): no reminders, tracking, partner events naming them or analytics by person" }),
    isChild: t.boolean({ description: "A child under 13: nothing is issued, emailed or tracked until a guardian's consent is recorded" }),
    birthDate: t.string({ description: "YYYY-MM-DD (not before 1900, not in the future), or \"\" to clear: a child while under 13 in the tenant's zone" }),
  }),
});

builder.mutationField("updateRecipientPrivacy", (t) =>
  t.prismaField({
    type: "Recipient",
    description: "Records a recipient's choices (tracking consent, restriction, objection, child) on their behalf, each kept in their privacy history. People's-rights decisions: privacy:manage (owner, admin, keys scoped privacy).",
    authScopes: { permission: "privacy:manage" },
    errors: { types: [NotFoundError, ValidationError, AlreadyErasedError] },
    args: { id: t.arg.globalID({ required: true, for: RecipientRef }), input: t.arg({ type: RecipientPrivacyInput, required: true }) },
    resolve: (_q, _r, { id, input }, ctx) => updateRecipientPrivacy(ctx.db, callerOf(ctx), id.id, input),
  }),
);

builder.prismaObjectFields(RecipientRef, (t) => ({
  trackingConsent: t.exposeBoolean("trackingConsent"),
  restrictedAt: t.expose("restrictedAt", { type: "DateTime", nullable: true }),
  objectedAt: t.expose("objectedAt", { type: "DateTime", nullable: true }),
  isChild: t.exposeBoolean("isChild", { description: "Marked a child under 13 (a birth date can make them one too)" }),
  birthDate: t.string({ nullable: true, description: "YYYY-MM-DD", select: { birthDate: true }, resolve: (r) => r.birthDate?.toISOString().slice(0, 10) ?? null }),
  guardianConsentAt: t.expose("guardianConsentAt", { type: "DateTime", nullable: true, description: "When the guardian consent in force was given; null when none is" }),
}));

builder.prismaObjectFields(TemplateRef, (t) => ({
  reminderCount: t.exposeInt("reminderCount", { description: "Reminders for an unopened credential (0-3)" }),
  reminderIntervalDays: t.exposeInt("reminderIntervalDays"),
  expiryReminderDays: t.exposeInt("expiryReminderDays", { nullable: true, description: "Remind this many days before validUntil; null: never" }),
}));

// What one person did with their credential is personal data: analysts see counts across credentials only.
builder.prismaObjectFields(CredentialRef, (t) => ({
  engagement: t.field({
    type: [EngagementCountRef],
    description: "What happened to this credential so far, per event type (people and machines apart)",
    authScopes: { permission: "personal:read" },
    resolve: (c, _a, ctx) => ctx.loaders.credentialEngagement.load(c.id),
  }),
  engagedAt: t.expose("engagedAt", { type: "DateTime", nullable: true, authScopes: { permission: "personal:read" }, description: "When a person (not a scanner) first opened or viewed it" }),
  claimedAt: t.expose("claimedAt", { type: "DateTime", nullable: true, authScopes: { permission: "personal:read" } }),
  remindersSent: t.exposeInt("remindersSent", { description: "Reminders queued so far; each one's delivery status is in emailMessages" }),
}));

const ReminderSettingsInput = builder.inputType("ReminderSettingsInput", {
  fields: (t) => ({
    reminderCount: t.int({ required: true }),
    reminderIntervalDays: t.int({ required: true }),
    expiryReminderDays: t.int(),
  }),
});

builder.mutationField("setTemplateReminders", (t) =>
  t.prismaField({
    type: TemplateRef,
    authScopes: { permission: "issue" },
    errors: { types: [ValidationError, NotFoundError] },
    args: { id: t.arg.globalID({ required: true, for: TemplateRef }), input: t.arg({ type: ReminderSettingsInput, required: true }) },
    resolve: async (query, _r, { id, input }, ctx) => {
      const caller = callerOf(ctx);
      if (input.reminderCount < 0 || input.reminderCount > 3) throw ValidationError.field(["input", "reminderCount"], "From 0 to 3");
      if (input.reminderIntervalDays < 1 || input.reminderIntervalDays > 90) throw ValidationError.field(["input", "reminderIntervalDays"], "From 1 to 90 days");
      if (input.expiryReminderDays != null && (input.expiryReminderDays < 1 || input.expiryReminderDays > 365)) throw ValidationError.field(["input", "expiryReminderDays"], "From 1 to 365 days");
      const found = await ctx.db.template.findUnique({ where: tenantKey(id.id, ctx) });
      if (!found) throw new NotFoundError("Template");
      return ctx.db.template.update({ ...query, where: { tenantId_id: { tenantId: caller.tenantId, id: id.id } }, data: { reminderCount: input.reminderCount, reminderIntervalDays: input.reminderIntervalDays, expiryReminderDays: input.expiryReminderDays ?? null } });
    },
  }),
);
