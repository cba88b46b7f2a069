// A tenant's full export as GraphQL: exportTenant queues it, Tenant.exports and node(id) show its
// progress and download link, tenantExportProgress streams it. Everything here needs tenant:export.
import { encodeGlobalID } from "@pothos/plugin-relay";
import { builder } from "../../builder.js";
import { claimsFor } from "../../context.js";
import { withTenantTransaction } from "../../db/tenant-transaction.js";
import { TenantExportState } from "../../generated/prisma/enums.js";
import { NotFoundError } from "../../errors.js";
import { callerOf } from "../common/caller.js";
import { connectionComplexity, tenantKey } from "../common/nodes.js";
import { ErrorInterface } from "../common/schema.js";
import { TenantRef } from "../tenants/schema.js";
import { requestTenantExport, tenantExportLinks, TenantExportInProgressError, TenantExportUnavailableError } from "./service.js";
import { errorType } from "../common/schema.js";

errorType(TenantExportUnavailableError, "TenantExportUnavailableError", "This Laurel runs on its embedded demo database, which cannot stream a tenant export: run it on PostgreSQL (DATABASE_URL).");

const StateEnum = builder.enumType(TenantExportState, {
  name: "TenantExportState",
  description: "queued -> running -> completed | failed; a crashed worker's export stays running and resumes",
});

builder.objectType(TenantExportInProgressError, {
  name: "TenantExportInProgressError",
  description: "An export of this tenant is already queued or running: follow that one (exportId).",
  interfaces: [ErrorInterface],
  fields: (t) => ({ exportId: t.id({ description: "The export in progress (a TenantExport id)", resolve: (e) => encodeGlobalID("TenantExport", e.exportId) }) }),
});

const DownloadRef = builder.simpleObject("TenantExportDownload", {
  fields: (t) => ({
    url: t.string({ description: "Signed link to the ZIP; anyone holding it can fetch it until expiresAt (each fetch is audited)" }),
    expiresAt: t.field({ type: "DateTime" }),
  }),
});

export const TenantExportRef = builder.prismaNode("TenantExport", {
  id: { resolve: (r) => r.id },
  nullable: true, // another tenant's export is null, exactly as an unknown id
  findUnique: (id, ctx) => tenantKey(id, ctx),
  authScopes: { permission: "tenant:export" },
  description: "A full export of the tenant: every table as NDJSON in one ZIP with manifest.json (counts and sha256 per file)",
  fields: (t) => ({
    state: t.expose("state", { type: StateEnum }),
    formatVersion: t.exposeString("formatVersion"),
    tablesDone: t.exposeInt("tablesDone"),
    tablesTotal: t.exposeInt("tablesTotal", { description: "0 until the worker has read the catalog" }),
    rowsWritten: t.float({ select: { rowsWritten: true }, resolve: (r) => Number(r.rowsWritten) }),
    attempts: t.exposeInt("attempts", { description: "Worker attempts so far; each after the first resumed from its checkpoints" }),
    startedAt: t.expose("startedAt", { type: "DateTime", nullable: true }),
    finishedAt: t.expose("finishedAt", { type: "DateTime", nullable: true }),
    bytes: t.float({ nullable: true, description: "Size of the ZIP", select: { bytes: true }, resolve: (r) => (r.bytes === null ? null : Number(r.bytes)) }),
    sha256: t.exposeString("sha256", { nullable: true, description: "sha256 of the ZIP, hex" }),
    failure: t.exposeString("failure", { nullable: true }),
    download: t.field({
      type: DownloadRef,
      nullable: true,
      description: "Once completed, until it expires",
      select: { state: true, expiresAt: true },
      resolve: (r, _args, ctx) =>
        r.state === "completed" && r.expiresAt && r.expiresAt.getTime() > Date.now()
          ? { url: tenantExportLinks.sign(ctx.app.config, ctx.tenantId!, r.id, r.expiresAt), expiresAt: r.expiresAt }
          : null,
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

builder.prismaObjectField(TenantRef, "exports", (t) =>
  t.relatedConnection("tenantExports", {
    cursor: "tenantId_id",
    nullable: true,
    description: "Full exports of the tenant, newest first.",
    authScopes: { permission: "tenant:export" },
    totalCount: true,
    complexity: connectionComplexity,
    query: () => ({ orderBy: [{ createdAt: "desc" as const }, { id: "desc" as const }] }),
  }),
);

builder.mutationField("exportTenant", (t) =>
  t.prismaField({
    type: TenantExportRef,
    description:
      "Queues a full export of the tenant (owner only). The worker writes it; follow TenantExport.state or tenantExportProgress, then fetch download.url. Webhook secrets never travel; signing keys travel sealed (see the README).",
    authScopes: { permission: "tenant:export" },
    errors: { types: [TenantExportInProgressError, TenantExportUnavailableError] },
    resolve: (_q, _r, _args, ctx) => requestTenantExport(ctx.db, callerOf(ctx), !ctx.app.config.databaseUrl),
  }),
);

const ProgressRef = builder.simpleObject("TenantExportProgress", {
  fields: (t) => ({
    id: t.id(),
    state: t.field({ type: StateEnum }),
    tablesDone: t.int(),
    tablesTotal: t.int(),
    rowsWritten: t.float(),
  }),
});

builder.subscriptionField("tenantExportProgress", (t) =>
  t.field({
    type: ProgressRef,
    description: "Progress of a tenant export (Server-Sent Events), until it completes or fails.",
    authScopes: { permission: "tenant:export" },
    args: { id: t.arg.globalID({ required: true }) },
    subscribe: async function* (_root, { id }, ctx) {
      if (id.typename !== "TenantExport" || !ctx.tenantId) throw new NotFoundError("TenantExport");
      let last = "";
      for (;;) {
        const row = await withTenantTransaction(ctx.app.database, claimsFor(ctx), (db) =>
          db.tenantExport.findUnique({ where: { tenantId_id: { tenantId: ctx.tenantId!, id: id.id } } }),
        );
        if (!row) throw new NotFoundError("TenantExport");
        const snapshot = { id: id.id, state: row.state, tablesDone: row.tablesDone, tablesTotal: row.tablesTotal, rowsWritten: Number(row.rowsWritten) };
        const key = JSON.stringify(snapshot);
        if (key !== last) yield snapshot;
        last = key;
        if (row.state === "completed" || row.state === "failed") return;
        await new Promise((r) => setTimeout(r, 500));
      }
    },
    resolve: (snapshot) => snapshot as never,
  }),
);
