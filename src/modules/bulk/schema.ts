// Bulk issuance over GraphQL: create a job from rows or an uploaded CSV, watch it (query or SSE
// subscription), read its per-row failures, download its result as CSV.
import { builder } from "../../builder.js";
import { BulkJobStatus } from "../../generated/prisma/enums.js";
import { NotFoundError, ValidationError } from "../../errors.js";
import { callerOf } from "../common/caller.js";
import { connectionComplexity, tenantKey } from "../common/nodes.js";
import { TenantRef } from "../tenants/schema.js";
import { TemplateNotIssuableError, findTemplate } from "../templates/service.js";
import { withTenantTransaction } from "../../db/tenant-transaction.js";
import { claimsFor } from "../../context.js";
import { createBulkJob, findBulkJob } from "./service.js";
import { csvText, rowsFromCsv, type BulkRow, type RowProblem } from "./rows.js";
import { encodeGlobalID } from "@pothos/plugin-relay";
import type { CustomField } from "../templates/service.js";
import { problemFor } from "../credentials/duplicates.js";

const BulkJobStatusEnum = builder.enumType(BulkJobStatus, { name: "BulkJobStatus" });

builder.scalarType("File", {
  description: "A file sent with the GraphQL multipart request spec",
  serialize: () => {
    throw new Error("File is an input type");
  },
});

const RowProblemRef = builder.objectRef<RowProblem>("BulkRowProblem").implement({
  fields: (t) => ({
    row: t.exposeInt("row"),
    column: t.exposeString("column"),
    message: t.exposeString("message"),
    existingCredentialId: t.id({
      nullable: true,
      description: "The credential this row's person already holds (global id), when that is why the row was not issued; null without personal:read",
      resolve: (p) => (p.credentialId ? encodeGlobalID("Credential", p.credentialId) : null),
    }),
  }),
});

builder.prismaObject("BulkJobRow", {
  name: "BulkRowFailure",
  fields: (t) => ({
    rowNumber: t.exposeInt("rowNumber"),
    // Stored with the credential a duplicate row names; read without it unless the caller holds personal:read.
    problems: t.field({
      type: [RowProblemRef],
      select: { errors: true },
      resolve: (r, _a, ctx) => (r.errors as unknown as RowProblem[]).map((p) => problemFor(p, ctx.permissions.has("personal:read"))),
    }),
  }),
});

export const BulkJobRef = builder.prismaNode("BulkJob", {
  id: { resolve: (j) => j.id },
  nullable: true,
  findUnique: (id, ctx) => tenantKey(id, ctx),
  authScopes: { permission: "issue" },
  fields: (t) => ({
    status: t.expose("status", { type: BulkJobStatusEnum }),
    source: t.exposeString("source"),
    totalRows: t.exposeInt("totalRows"),
    issuedCount: t.exposeInt("issuedCount"),
    failedCount: t.exposeInt("failedCount"),
    processedCount: t.int({ select: { issuedCount: true, failedCount: true }, resolve: (j) => j.issuedCount + j.failedCount }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    startedAt: t.expose("startedAt", { type: "DateTime", nullable: true }),
    finishedAt: t.expose("finishedAt", { type: "DateTime", nullable: true }),
    template: t.relation("template"),
    failures: t.relatedConnection("rows", {
      cursor: "tenantId_jobId_rowNumber",
      description: "Rows that were not issued, with each problem's column",
      complexity: connectionComplexity,
      query: () => ({ where: { status: "FAILED" }, orderBy: { rowNumber: "asc" } }),
    }),
    resultCsvUrl: t.string({
      description:
        "GET with the same Authorization header: one line per row, with its credential or its problems (the email, credential_id and credential_url columns need personal:read). " +
        "A cell that would begin with = + - @ tab, carriage return or ' starts with an added ': remove it to get the value.",
      select: { id: true },
      resolve: (j, _a, ctx) => `${ctx.app.config.publicUrl}/bulk-jobs/${j.id}/result.csv`,
    }),
  }),
});

builder.prismaObjectField(TenantRef, "bulkJobs", (t) =>
  t.relatedConnection("bulkJobs", {
    cursor: "tenantId_id",
    nullable: true,
    authScopes: { permission: "issue" },
    totalCount: true,
    complexity: connectionComplexity,
    query: () => ({ orderBy: [{ createdAt: "desc" }, { id: "desc" }] }),
  }),
);

const BulkRowInput = builder.inputType("BulkRowInput", {
  fields: (t) => ({
    email: t.string({ required: true }),
    name: t.string(),
    externalId: t.string(),
    locale: t.string(),
    fieldValues: t.field({ type: "JSON" }),
    issuedAt: t.string(),
    validUntil: t.string(),
    idempotencyKey: t.string(),
  }),
});

const CreateBulkIssuanceInput = builder.inputType("CreateBulkIssuanceInput", {
  fields: (t) => ({
    templateId: t.globalID({ required: true }),
    rows: t.field({ type: [BulkRowInput], description: "The rows; or upload `csv`" }),
    csv: t.field({ type: "File", description: "A CSV with a header: email, name, external_id, locale, issued_at, valid_until, idempotency_key and the template's custom fields" }),
    encoding: t.string({
      description:
        'The CSV\'s encoding when it is not UTF-8 and has no byte-order mark: a WHATWG label such as "windows-1252" (Excel\'s "CSV (Comma delimited)"), "iso-8859-15", "shift_jis". Without it, bytes that are not UTF-8 are refused, naming the first bad row.',
    }),
  }),
});

builder.mutationField("createBulkIssuance", (t) =>
  t.prismaField({
    type: BulkJobRef,
    description: "Validates every row now (invalid rows are reported, not issued) and issues the rest in the background.",
    authScopes: { permission: "issue" },
    errors: { types: [ValidationError, NotFoundError, TemplateNotIssuableError] },
    // A row with text that is not text fails alone, reported with its row (bulk/rows.ts cleanRowText).
    extensions: { textCheckedPerRow: ["input", "rows"] },
    args: { input: t.arg({ type: CreateBulkIssuanceInput, required: true }) },
    resolve: async (_q, _r, { input }, ctx) => {
      if (input.templateId.typename !== "Template") throw new NotFoundError("Template");
      const caller = callerOf(ctx);
      if (!input.rows === !input.csv) throw ValidationError.field(["input"], "Give either rows or csv");
      let rows: BulkRow[];
      if (input.csv) {
        const file = input.csv as unknown as File;
        const template = await findTemplate(ctx.db, caller, input.templateId.id);
        const version = await ctx.db.templateVersion.findUniqueOrThrow({
          where: { tenantId_templateId_version: { tenantId: caller.tenantId, templateId: template.id, version: template.currentVersion } },
        });
        rows = rowsFromCsv(csvText(new Uint8Array(await file.arrayBuffer()), input.encoding), version.customFields as unknown as CustomField[]);
      } else {
        rows = input.rows!.map((r) => ({ ...r, fieldValues: (r.fieldValues ?? null) as Record<string, unknown> | null }));
      }
      return createBulkJob(ctx.db, caller, input.templateId.id, rows, input.csv ? "CSV" : "ROWS");
    },
  }),
);

const BulkJobProgress = builder.simpleObject("BulkJobProgress", {
  fields: (t) => ({
    id: t.id(),
    status: t.field({ type: BulkJobStatusEnum }),
    totalRows: t.int(),
    issuedCount: t.int(),
    failedCount: t.int(),
  }),
});

builder.subscriptionType({});
builder.subscriptionField("bulkJobProgress", (t) =>
  t.field({
    type: BulkJobProgress,
    description: "Progress of a bulk job (Server-Sent Events), until it completes or fails.",
    authScopes: { permission: "issue" },
    args: { id: t.arg.globalID({ required: true }) },
    subscribe: async function* (_root, { id }, ctx) {
      // Callers are authorized before this runs (authorizeOnSubscribe); a wrong id is NOT_FOUND like any other.
      if (id.typename !== "BulkJob" || !ctx.tenantId) throw new NotFoundError("BulkJob");
      let last = "";
      for (;;) {
        const job = await withTenantTransaction(ctx.app.database, claimsFor(ctx), (db) => findBulkJob(db, ctx.tenantId!, id.id));
        const snapshot = { id: id.id, status: job.status, totalRows: job.totalRows, issuedCount: job.issuedCount, failedCount: job.failedCount };
        const key = JSON.stringify(snapshot);
        if (key !== last) yield snapshot;
        last = key;
        if (job.status === "COMPLETED" || job.status === "FAILED") return;
        await new Promise((r) => setTimeout(r, 500));
      }
    },
    resolve: (snapshot) => snapshot as never,
  }),
);
