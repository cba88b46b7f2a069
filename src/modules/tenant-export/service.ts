// A tenant's full export, as the API sees it: the owner asks for one (queued for the worker, task.ts),
// watches its progress, and downloads the ZIP through a signed, expiring, audited link (route below).
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import path from "node:path";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { App } from "../../context.js";
import { withTenantTransaction, type Db } from "../../db/tenant-transaction.js";
import { ExpectedError } from "../../errors.js";
import { recordAudit } from "../audit/service.js";
import { ROLE_PERMISSIONS } from "../auth/permissions.js";
import type { Caller } from "../common/caller.js";
import { enqueueJob } from "../jobs/enqueue.js";
import { fail, linkSigner } from "../privacy/export-link.js";
import { EMBEDDED_EXPORT_REFUSAL, TENANT_EXPORT_FORMAT_VERSION } from "./task.js";

/** An export of this tenant is already queued or running: wait for it (one at a time per tenant). */
export class TenantExportInProgressError extends ExpectedError {
  override name = "TenantExportInProgressError";
  constructor(readonly exportId: string) {
    super("An export of this tenant is already queued or running");
  }
}

/** The embedded demo (no DATABASE_URL) cannot stream an export; see EMBEDDED_EXPORT_REFUSAL. */
export class TenantExportUnavailableError extends ExpectedError {
  override name = "TenantExportUnavailableError";
  constructor() {
    super(EMBEDDED_EXPORT_REFUSAL);
  }
}

/** Attempts of an export_tenant job: each resumes from the last checkpoint (queue backoff between them). */
export const TENANT_EXPORT_JOB_ATTEMPTS = 8;

/**
 * Queues a full export of the caller's tenant (needs tenant:export, the owner's alone). Returns the
 * TenantExport row (state queued); the worker's export_tenant job does the work. Throws
 * TenantExportInProgressError while another export of the tenant is queued or running.
 */
export async function requestTenantExport(db: Db, caller: Caller, embedded = false) {
  if (embedded) throw new TenantExportUnavailableError();
  const { tenantId } = caller;
  const pending = await db.tenantExport.findFirst({ where: { tenantId, state: { in: ["queued", "running"] } }, select: { id: true } });
  if (pending) throw new TenantExportInProgressError(pending.id);
  const created = await db.tenantExport.create({
    data: { tenantId, requestedByUserId: caller.actor.kind === "user" ? caller.actor.id : null, formatVersion: TENANT_EXPORT_FORMAT_VERSION },
  });
  await enqueueJob(db, "export_tenant", { exportId: created.id }, { jobKey: `export_tenant:${created.id}`, maxAttempts: TENANT_EXPORT_JOB_ATTEMPTS });
  await recordAudit(db, caller, { action: "tenant_export.requested", targetType: "TenantExport", targetId: created.id });
  return created;
}

/** Signed, expiring links to a tenant export's ZIP (HKDF purpose "laurel tenant export v1", so a person-export link never opens one). */
export const tenantExportLinks = linkSigner("laurel tenant export v1", (tenantId, exportId) => `/tenant-exports/${tenantId}/${exportId}.zip`);
const PATH = /^\/tenant-exports\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.zip$/;

/**
 * GET /tenant-exports/:tenant/:export.zip?v=&expires=&sig=  streams a finished export's ZIP to whoever
 * holds the link (403 forged, moved or extended; 404 unknown; 410 expired). Each fetch, served or
 * refused for expiry, is written to the tenant's audit log.
 */
export function createTenantExportRoutes(app: App) {
  return async function handleTenantExports(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? "/", "http://laurel.internal");
    const match = PATH.exec(url.pathname);
    if (!match) return false;
    if (req.method !== "GET") return fail(res, 405, "Use GET");
    const [, tenantId, exportId] = match as unknown as [string, string, string];
    const signed = tenantExportLinks.verify(app.config, tenantId, exportId, url.searchParams);
    if (!signed) return fail(res, 403, "This link is not valid");
    const claims = { dbRole: app.config.roles.member, tenantId, userId: null };
    const caller = { tenantId, actor: { kind: "system" as const, id: null }, permissions: ROLE_PERMISSIONS.owner, requestId: null };
    const now = Date.now();
    const found = await withTenantTransaction(app.database, claims, async (db) => {
      const row = await db.tenantExport.findUnique({ where: { tenantId_id: { tenantId, id: exportId } }, select: { state: true, fileName: true, expiresAt: true } });
      if (!row || row.state !== "completed" || !row.fileName || !row.expiresAt) return null;
      const expired = signed.expires * 1000 <= now || row.expiresAt.getTime() <= now;
      await recordAudit(db, caller, { action: expired ? "tenant_export.refused_expired" : "tenant_export.downloaded", targetType: "TenantExport", targetId: exportId });
      return { expired, fileName: row.fileName };
    });
    if (!found) return fail(res, 404, "Not found");
    if (found.expired) return fail(res, 410, "This link has expired: ask for a new export");
    const file = path.join(app.config.exportDir, found.fileName);
    const size = await stat(file).then((s) => s.size, () => null);
    if (size === null) return fail(res, 410, "This export's file is no longer kept: ask for a new export");
    res.writeHead(200, {
      "content-type": "application/zip",
      "content-disposition": `attachment; filename="tenant-export-${exportId}.zip"`,
      "content-length": String(size),
      "cache-control": "no-store",
    });
    createReadStream(file).pipe(res);
    return true;
  };
}
