// Retention settings over GraphQL: every member reads them on Tenant.retention; owners and admins (and
// admin-scoped keys: tenant:manage) change them with updateRetentionSettings.
import { builder } from "../../builder.js";
import { ValidationError } from "../../errors.js";
import { callerOf } from "../common/caller.js";
import { TenantRef } from "../tenants/schema.js";
import { RETENTION, retentionSettings, updateRetentionSettings, type RetentionSettings } from "./settings.js";

const bounds = (key: keyof RetentionSettings) => {
  const r = RETENTION[key];
  return `default ${r.default}, ${r.min} to ${r.max} ${r.unit}`;
};

const RetentionSettingsRef = builder.objectRef<RetentionSettings>("RetentionSettings").implement({
  description: "How long raw usage data is kept; a daily job removes what is older (README \"Retention\"). Analytics aggregates are kept forever.",
  fields: (t) => ({
    engagementEventMonths: t.exposeInt("engagementEventMonths", { description: `Raw engagement events, in months (${bounds("engagementEventMonths")})` }),
    deliveryLogDays: t.exposeInt("deliveryLogDays", {
      description: `Provider webhook events and partner webhook deliveries with their attempts, in days (${bounds("deliveryLogDays")})`,
    }),
    emailBodyDays: t.exposeInt("emailBodyDays", {
      description: `Email subjects and bodies, in days after delivery; the delivery record stays (${bounds("emailBodyDays")})`,
    }),
    exportFileDays: t.exposeInt("exportFileDays", { description: `Finished export files, in days after they were made (${bounds("exportFileDays")})` }),
    auditLogDays: t.exposeInt("auditLogDays", { description: `The audit log, in days (${bounds("auditLogDays")})` }),
  }),
});

builder.objectField(TenantRef, "retention", (t) =>
  t.field({
    type: RetentionSettingsRef,
    authScopes: { permission: "tenant:read" },
    resolve: (tenant, _args, ctx) => retentionSettings(ctx.db, tenant.id),
  }),
);

const UpdateRetentionSettingsInput = builder.inputType("UpdateRetentionSettingsInput", {
  description: "Only the settings given change.",
  fields: (t) => ({
    engagementEventMonths: t.int({ description: bounds("engagementEventMonths") }),
    deliveryLogDays: t.int({ description: bounds("deliveryLogDays") }),
    emailBodyDays: t.int({ description: bounds("emailBodyDays") }),
    exportFileDays: t.int({ description: bounds("exportFileDays") }),
    auditLogDays: t.int({ description: bounds("auditLogDays") }),
  }),
});

builder.mutationField("updateRetentionSettings", (t) =>
  t.field({
    type: RetentionSettingsRef,
    description: "Changes how long the tenant's raw usage data is kept (audited); a shorter setting applies at the retention job's next daily run.",
    authScopes: { permission: "tenant:manage" },
    errors: { types: [ValidationError] },
    args: { input: t.arg({ type: UpdateRetentionSettingsInput, required: true }) },
    resolve: (_root, { input }, ctx) => updateRetentionSettings(ctx.db, callerOf(ctx), input),
  }),
);
