// GET /bulk-jobs/:id/result.csv: a bulk job's outcome, one line per row, for the tenant that ran it.
// Authenticated like GraphQL (Bearer token) and read in that tenant's transaction. The recipients'
// emails are personal data, and so are the credentials' ids and URLs (their public page names the
// holder): only callers with personal:read get those columns.
import { openRow } from "./sealed-rows.js";
import { tenantKeys } from "../vault/vault.js";
import type { IncomingMessage, ServerResponse } from "node:http";
import { stringify } from "csv-stringify/sync";
import type { App } from "../../context.js";
import { claimsFor } from "../../context.js";
import { authenticate } from "../auth/authenticate.js";
import { permissionsForScopes, ROLE_PERMISSIONS, type Permission } from "../auth/permissions.js";
import { withTenantTransaction } from "../../db/tenant-transaction.js";
import { urls } from "../credentials/document.js";
import type { RowProblem } from "./rows.js";
import { problemFor } from "../credentials/duplicates.js";
import { codeForStatus, refuse } from "../../lib/http-answers.js";

const PATH = /^\/bulk-jobs\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/result\.csv$/;

function fail(res: ServerResponse, status: number, message: string) {
  refuse(res, { status, code: codeForStatus(status), message }, { html: false });
}

/**
 * CSV that a spreadsheet opens as text (OWASP "CSV Injection"): a cell beginning with =, +, -, @, a tab
 * or a carriage return (or their full-width forms) gets a leading apostrophe (csv-stringify's
 * escape_formulas), and so does a cell that already began with one, so the value is always recovered
 * by removing one leading apostrophe where there is one.
 */
export function resultCsv(lines: string[][]): string {
  return stringify(lines, {
    escape_formulas: true,
    cast: { string: (value) => (value.startsWith("'") ? `'${value}` : value) },
  });
}

export function createDownloadRoutes(app: App) {
  return async function handleDownloads(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const match = PATH.exec((req.url ?? "").split("?")[0]!);
    if (!match) return false;
    if (req.method !== "GET") return fail(res, 405, "Use GET"), true;
    let viewer;
    try {
      viewer = await authenticate(app.database.sql, req.headers.authorization ?? null);
    } catch (error) {
      return fail(res, 401, (error as Error).message), true;
    }
    if (viewer.kind === "anonymous" || !viewer.tenantId) return fail(res, 401, "Authentication required"), true;
    const permissions: ReadonlySet<Permission> =
      viewer.kind === "apiKey" ? permissionsForScopes(viewer.scopes) : viewer.role ? ROLE_PERMISSIONS[viewer.role] : new Set();
    if (!permissions.has("issue") && !permissions.has("export")) return fail(res, 403, "Needs the issue or export permission"), true;
    const personal = permissions.has("personal:read");
    const tenantId = viewer.tenantId;
    const jobId = match[1]!;
    const csv = await withTenantTransaction(app.database, claimsFor({ app, viewer, tenantId }), async (db) => {
      const job = await db.bulkJob.findUnique({ where: { tenantId_id: { tenantId, id: jobId } }, select: { id: true } });
      if (!job) return null;
      const rows = await db.bulkJobRow.findMany({ where: { tenantId, jobId }, orderBy: { rowNumber: "asc" } });
      const keys = await tenantKeys(db, tenantId);
      const header = personal ? ["row", "email", "status", "credential_id", "credential_url", "problems"] : ["row", "status", "problems"];
      const lines: string[][] = [header];
      for (const r of rows) {
        const input = openRow(keys, { id: r.id, key_version: r.keyVersion, input_sealed: r.inputSealed, legacy_input: r.legacyInput });
        const problems = (r.errors as unknown as RowProblem[]).map((p) => problemFor(p, personal)).map((p) => `${p.column}: ${p.message}`).join("; ");
        if (!personal) {
          lines.push([String(r.rowNumber), r.status, problems]);
          continue;
        }
        const url = r.credentialId ? urls.credential(app.config.publicUrl, tenantId, r.credentialId) : "";
        lines.push([String(r.rowNumber), input.email ?? "", r.status, r.credentialId ?? "", url, problems]);
      }
      return resultCsv(lines);
    });
    if (csv === null) return fail(res, 404, "Not found"), true;
    res.writeHead(200, { "content-type": "text/csv; charset=utf-8", "content-disposition": `attachment; filename="bulk-${jobId}.csv"`, "cache-control": "no-store" });
    res.end(csv);
    return true;
  };
}
