// People's rights as GraphQL: filing and moving data subject requests, the tenant's list with what is
// overdue, and the public holidays erasure deadlines skip. Everything here needs privacy:manage.
import { builder } from "../../builder.js";
import type { Context } from "../../context.js";
import {
  DataSubjectRequestFiler,
  DataSubjectRequestKind,
  DataSubjectRequestState,
  IdentityVerificationMethod,
} from "../../generated/prisma/enums.js";
import { NotFoundError, ValidationError } from "../../errors.js";
import { callerOf } from "../common/caller.js";
import { connectionComplexity, tenantKey } from "../common/nodes.js";
import { errorType } from "../common/schema.js";
import { TenantRef } from "../tenants/schema.js";
import { workingDaysLeft } from "./deadlines.js";
import { signedExportUrl } from "./export-link.js";
import { AlreadyErasedError, carryOutDataSubjectRequest } from "./erasure.js";
import { extendDataSubjectRequest } from "./extension.js";
import {
  deadlineCalendar,
  fileDataSubjectRequest,
  isFinal,
  isOverdue,
  overdueWhere,
  setTenantHolidays,
  tenantHolidays,
  updateDataSubjectRequest,
} from "./service.js";

const KindEnum = builder.enumType(DataSubjectRequestKind, {
  name: "DataSubjectRequestKind",
  description: "GDPR right invoked: access (Art. 15), portability (20), rectification (16), erasure (17), restriction (18), objection (21), consent_withdrawal (7(3))",
});
const StateEnum = builder.enumType(DataSubjectRequestState, {
  name: "DataSubjectRequestState",
  description: "open -> in_progress -> completed | refused | cancelled (open may close directly); the last three are final",
});
errorType(AlreadyErasedError, "AlreadyErasedError", "The person has been erased: nothing of theirs is left to act on.");

const FilerEnum = builder.enumType(DataSubjectRequestFiler, { name: "DataSubjectRequestFiler" });
const MethodEnum = builder.enumType(IdentityVerificationMethod, { name: "IdentityVerificationMethod" });

// The tenant's zone and holidays, read once per request however many nodes ask.
const calendars = new WeakMap<object, ReturnType<typeof deadlineCalendar>>();
function calendarFor(ctx: Context) {
  let calendar = calendars.get(ctx);
  if (!calendar) calendars.set(ctx, (calendar = deadlineCalendar(ctx.db, ctx.tenantId!)));
  return calendar;
}

const IdentityVerificationRef = builder.simpleObject("IdentityVerification", {
  fields: (t) => ({ method: t.field({ type: MethodEnum }), note: t.string({ nullable: true }) }),
});

const PersonExportRef = builder.simpleObject("PersonExport", {
  description: "A person's export: one ZIP (person.json, CSV files, each credential as published, README.txt)",
  fields: (t) => ({
    url: t.string({ description: "Signed download link; anyone holding it can fetch the ZIP until expiresAt" }),
    expiresAt: t.field({ type: "DateTime" }),
  }),
});

const RequestExtensionRef = builder.simpleObject("DataSubjectRequestExtension", {
  fields: (t) => ({
    extendedAt: t.field({ type: "DateTime" }),
    reason: t.string({ description: "The reasons for the delay, as told to the person" }),
    originalDeadlineAt: t.field({ type: "DateTime", description: "The deadline before the extension" }),
  }),
});

export const DataSubjectRequestRef = builder.prismaNode("DataSubjectRequest", {
  id: { resolve: (r) => r.id },
  nullable: true, // node(id) of a row this tenant cannot see is null, exactly as for an unknown id
  findUnique: (id, ctx) => tenantKey(id, ctx),
  authScopes: { permission: "privacy:manage" },
  fields: (t) => ({
    kind: t.expose("kind", { type: KindEnum }),
    state: t.expose("state", { type: StateEnum }),
    recipient: t.relation("recipient", { nullable: true }),
    filedBy: t.expose("filedBy", { type: FilerEnum, description: "staff on the person's behalf, or the person themselves" }),
    identityVerification: t.field({
      type: IdentityVerificationRef,
      select: { identityMethod: true, identityNote: true },
      resolve: (r) => ({ method: r.identityMethod, note: r.identityNote }),
    }),
    receivedAt: t.expose("receivedAt", { type: "DateTime" }),
    deadlineAt: t.expose("deadlineAt", {
      type: "DateTime",
      description: "Erasure: end of the 7th working day in the tenant's zone; others: end of the same day a month later (GDPR Art. 12(3))",
    }),
    completedAt: t.expose("completedAt", { type: "DateTime", nullable: true, description: "When the request reached a final state" }),
    extension: t.field({
      type: RequestExtensionRef,
      nullable: true,
      description: "The deadline's extension by up to two further months (GDPR Art. 12(3)), if any",
      select: { extendedAt: true, extensionReason: true, originalDeadlineAt: true },
      resolve: (r) => (r.extendedAt ? { extendedAt: r.extendedAt, reason: r.extensionReason ?? "", originalDeadlineAt: r.originalDeadlineAt! } : null),
    }),
    outcome: t.exposeString("outcome", { nullable: true }),
    overdue: t.boolean({
      description: "Deadline passed and not final",
      select: { state: true, deadlineAt: true },
      resolve: (r) => isOverdue(r),
    }),
    workingDaysLeft: t.int({
      nullable: true,
      description: "Erasure only, while pending: working days in the tenant's zone from today to the deadline, both included (0 once passed)",
      select: { kind: true, state: true, deadlineAt: true },
      resolve: async (r, _args, ctx) => {
        if (r.kind !== "erasure" || isFinal(r.state)) return null;
        const { timeZone, holidays } = await calendarFor(ctx);
        return workingDaysLeft(r.deadlineAt, new Date(), timeZone, holidays);
      },
    }),
    export: t.field({
      type: PersonExportRef,
      nullable: true,
      description: "Access and portability, once carried out: a signed link to the person's ZIP, until it expires (each fetch is audited)",
      select: { personExport: { select: { id: true, expiresAt: true } } },
      resolve: (r, _args, ctx) =>
        r.personExport ? { url: signedExportUrl(ctx.app.config, ctx.tenantId!, r.personExport.id, r.personExport.expiresAt), expiresAt: r.personExport.expiresAt } : null,
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
  }),
});

const DataSubjectRequestFilter = builder.inputType("DataSubjectRequestFilter", {
  fields: (t) => ({
    state: t.field({ type: StateEnum }),
    kind: t.field({ type: KindEnum }),
    overdue: t.boolean({ description: "true: deadline passed and not final; false: the others" }),
  }),
});

builder.prismaObjectField(TenantRef, "dataSubjectRequests", (t) =>
  t.relatedConnection("dataSubjectRequests", {
    cursor: "tenantId_id",
    nullable: true,
    description: "Requests people made about their data, newest first.",
    authScopes: { permission: "privacy:manage" },
    totalCount: true,
    complexity: connectionComplexity,
    args: { filter: t.arg({ type: DataSubjectRequestFilter }) },
    query: ({ filter }) => ({
      where: {
        ...(filter?.state ? { state: filter.state } : {}),
        ...(filter?.kind ? { kind: filter.kind } : {}),
        ...(filter?.overdue != null ? overdueWhere(filter.overdue) : {}),
      },
      orderBy: [{ receivedAt: "desc" as const }, { id: "desc" as const }],
    }),
  }),
);

const HolidayRef = builder.simpleObject("TenantHoliday", {
  fields: (t) => ({ date: t.string({ description: "Calendar date (YYYY-MM-DD) in the tenant's zone" }), name: t.string() }),
});

builder.prismaObjectField(TenantRef, "holidays", (t) =>
  t.field({
    type: [HolidayRef],
    nullable: true,
    description: "Public holidays that erasure deadlines skip, in date order.",
    authScopes: { permission: "privacy:manage" },
    resolve: (_tenant, _args, ctx) => tenantHolidays(ctx.db, ctx.tenantId!),
  }),
);

const IdentityVerificationInput = builder.inputType("IdentityVerificationInput", {
  fields: (t) => ({
    method: t.field({ type: MethodEnum, required: true }),
    note: t.string({ description: "What was checked (at most 1,000 characters; required for other)" }),
  }),
});

export const RequestedChangesInput = builder.inputType("RequestedChangesInput", {
  description: "A correction of a person's details (GDPR Art. 16): either or both; absent fields stay as they are.",
  fields: (t) => ({
    name: t.string({ description: "The corrected name: 1 to 200 characters, one line (stored in NFC)" }),
    email: t.field({ type: "EmailAddress", description: "The corrected email address" }),
  }),
});

const FileDataSubjectRequestInput = builder.inputType("FileDataSubjectRequestInput", {
  fields: (t) => ({
    kind: t.field({ type: KindEnum, required: true }),
    recipientId: t.globalID({ description: "The person as a recipient; or give email" }),
    email: t.field({ type: "EmailAddress", description: "The person's address, looked up among the tenant's recipients" }),
    identityVerification: t.field({ type: IdentityVerificationInput, required: true }),
    requestedChanges: t.field({
      type: RequestedChangesInput,
      description: "Rectification only, and required there: the corrected name and/or email the person asks for (normalised as recipients are)",
    }),
  }),
});

builder.mutationField("fileDataSubjectRequest", (t) =>
  t.prismaField({
    type: DataSubjectRequestRef,
    description: "Records a person's request on their behalf, with how their identity was verified and its deadline.",
    authScopes: { permission: "privacy:manage" },
    errors: { types: [ValidationError, NotFoundError, AlreadyErasedError] },
    args: { input: t.arg({ type: FileDataSubjectRequestInput, required: true }) },
    resolve: (_q, _r, { input }, ctx) => {
      if (input.recipientId && input.recipientId.typename !== "Recipient") throw new NotFoundError("Recipient");
      return fileDataSubjectRequest(ctx.db, callerOf(ctx), { ...input, recipientId: input.recipientId?.id ?? null });
    },
  }),
);

const UpdateDataSubjectRequestInput = builder.inputType("UpdateDataSubjectRequestInput", {
  fields: (t) => ({
    id: t.globalID({ required: true }),
    state: t.field({ type: StateEnum, required: true }),
    outcome: t.string({ description: "What was done, or why not (required to refuse; at most 2,000 characters)" }),
  }),
});

builder.mutationField("updateDataSubjectRequest", (t) =>
  t.prismaField({
    type: DataSubjectRequestRef,
    authScopes: { permission: "privacy:manage" },
    errors: { types: [ValidationError, NotFoundError] },
    args: { input: t.arg({ type: UpdateDataSubjectRequestInput, required: true }) },
    resolve: (_q, _r, { input }, ctx) => {
      if (input.id.typename !== "DataSubjectRequest") throw new NotFoundError("DataSubjectRequest");
      return updateDataSubjectRequest(ctx.db, callerOf(ctx), { ...input, id: input.id.id }, new Date(), ctx.app.config);
    },
  }),
);

const ExtendDataSubjectRequestInput = builder.inputType("ExtendDataSubjectRequestInput", {
  fields: (t) => ({
    id: t.globalID({ required: true }),
    reason: t.string({ required: true, description: "Why more time is needed: emailed to the person as written (at most 2,000 characters)" }),
    months: t.int({ description: "Further months: 1 or 2 (default 2)" }),
  }),
});

builder.mutationField("extendDataSubjectRequest", (t) =>
  t.prismaField({
    type: DataSubjectRequestRef,
    authScopes: { permission: "privacy:manage" },
    description: "Extends a pending request's deadline once, before it passes, by up to two further months, and tells the person why (GDPR Art. 12(3)). Not erasure.",
    errors: { types: [ValidationError, NotFoundError] },
    args: { input: t.arg({ type: ExtendDataSubjectRequestInput, required: true }) },
    resolve: (_q, _r, { input }, ctx) => {
      if (input.id.typename !== "DataSubjectRequest") throw new NotFoundError("DataSubjectRequest");
      return extendDataSubjectRequest(ctx.db, callerOf(ctx), { id: input.id.id, reason: input.reason, months: input.months }, new Date(), ctx.app.config);
    },
  }),
);

builder.mutationField("carryOutDataSubjectRequest", (t) =>
  t.prismaField({
    type: DataSubjectRequestRef,
    description:
      "Carries out a request (erasure, access, portability or rectification): moves it to in_progress and queues the work; the worker completes it. Erasure revokes the person's credentials and erases their personal data; access and portability build their export (DataSubjectRequest.export); rectification applies its requestedChanges as rectifyRecipient does (a correction that can no longer be made leaves it in_progress with the reason as outcome).",
    authScopes: { permission: "privacy:manage" },
    errors: { types: [ValidationError, NotFoundError, AlreadyErasedError] },
    args: { id: t.arg.globalID({ required: true }) },
    resolve: (_q, _r, { id }, ctx) => {
      if (id.typename !== "DataSubjectRequest") throw new NotFoundError("DataSubjectRequest");
      return carryOutDataSubjectRequest(ctx.db, callerOf(ctx), id.id, ctx.app.config);
    },
  }),
);

const HolidayInput = builder.inputType("TenantHolidayInput", {
  fields: (t) => ({
    date: t.string({ required: true, description: "YYYY-MM-DD, a day in the tenant's zone" }),
    name: t.string({ required: true }),
  }),
});

const SetTenantHolidaysInput = builder.inputType("SetTenantHolidaysInput", {
  fields: (t) => ({ days: t.field({ type: [HolidayInput], required: true, description: "The whole list: it replaces the one before" }) }),
});

const SetTenantHolidaysPayload = builder.simpleObject("SetTenantHolidaysPayload", {
  fields: (t) => ({ holidays: t.field({ type: [HolidayRef] }) }),
});

builder.mutationField("setTenantHolidays", (t) =>
  t.field({
    type: SetTenantHolidaysPayload,
    description: "Replaces the tenant's public holidays (at most 100). Deadlines already set do not move.",
    authScopes: { permission: "privacy:manage" },
    errors: { types: [ValidationError] },
    args: { input: t.arg({ type: SetTenantHolidaysInput, required: true }) },
    resolve: async (_root, { input }, ctx) => ({ holidays: await setTenantHolidays(ctx.db, callerOf(ctx), input.days) }),
  }),
);
