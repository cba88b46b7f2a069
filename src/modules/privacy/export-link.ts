// GET /privacy/exports/:tenant/:export.zip?v=&expires=&sig=  a person's export, for whoever holds the
// link (staff pass it to the person, who has no account): the HMAC binds tenant, export and expiry
// under a key derived from the key-encryption keys, so a link cannot be forged, moved or extended.
// Each fetch, served or refused for expiry, is in the tenant's audit log.
import { createHmac, hkdfSync, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { App } from "../../context.js";
import { withTenantTransaction } from "../../db/tenant-transaction.js";
import { recordAudit } from "../audit/service.js";
import { ROLE_PERMISSIONS } from "../auth/permissions.js";
import { currentKekVersion } from "../engagement/tracking.js";
import { acceptsHtml, codeForStatus, refuse } from "../../lib/http-answers.js";

const PATH = /^\/privacy\/exports\/([0-9a-f-]{36})\/([0-9a-f-]{36})\.zip$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Signed, expiring links to a file of one tenant: HMAC-SHA256 over tenant, id and expiry (seconds) under
 * a key derived (HKDF) from the current key-encryption key and `purpose`, so a link of one kind never
 * opens another kind, tenant or file, and cannot be extended. Used by person exports and tenant exports.
 */
export interface LinkSigner {
  /** `${publicUrl}${pathOf(tenantId, id)}?v=&expires=&sig=` */
  sign(config: App["config"], tenantId: string, id: string, expiresAt: Date): string;
  /** Whether the query's signature holds for this tenant and id (expiry is checked by the caller). */
  verify(config: App["config"], tenantId: string, id: string, query: URLSearchParams): { expires: number } | null;
}

export function linkSigner(purpose: string, pathOf: (tenantId: string, id: string) => string): LinkSigner {
  const linkKey = (keks: ReadonlyMap<number, Buffer>, version: number): Buffer | null => {
    const kek = keks.get(version);
    return kek ? Buffer.from(hkdfSync("sha256", kek, Buffer.alloc(0), purpose, 32)) : null;
  };
  const mac = (key: Buffer, tenantId: string, id: string, expires: number) => createHmac("sha256", key).update(`${tenantId}\n${id}\n${expires}`).digest();
  return {
    sign(config, tenantId, id, expiresAt) {
      const version = currentKekVersion(config.keks);
      const expires = Math.floor(expiresAt.getTime() / 1000);
      const sig = mac(linkKey(config.keks, version)!, tenantId, id, expires).toString("base64url");
      return `${config.publicUrl}${pathOf(tenantId, id)}?v=${version}&expires=${expires}&sig=${sig}`;
    },
    verify(config, tenantId, id, query) {
      // Exactly the link as made: v, expires and sig once each and nothing else (a second sig, say, is an alteration).
      if ([...query.keys()].sort().join(",") !== "expires,sig,v") return null;
      const version = Number(query.get("v"));
      const expires = Number(query.get("expires"));
      const sig = query.get("sig") ?? "";
      if (!Number.isSafeInteger(version) || !Number.isSafeInteger(expires) || !/^[A-Za-z0-9_-]{43}$/.test(sig)) return null;
      const key = linkKey(config.keks, version);
      if (!key) return null;
      const given = Buffer.from(sig, "base64url");
      // One spelling per signature: the 43rd character's unused bits make others.
      if (given.toString("base64url") !== sig) return null;
      return timingSafeEqual(mac(key, tenantId, id, expires), given) ? { expires } : null;
    },
  };
}

const personExportLinks = linkSigner("laurel person export v1", (tenantId, exportId) => `/privacy/exports/${tenantId}/${exportId}.zip`);

export function signedExportUrl(config: App["config"], tenantId: string, exportId: string, expiresAt: Date): string {
  return personExportLinks.sign(config, tenantId, exportId, expiresAt);
}

/** Whether the query's signature holds for this tenant and export (expiry is checked by the caller). */
export function verifyExportLink(config: App["config"], tenantId: string, exportId: string, query: URLSearchParams): { expires: number } | null {
  return personExportLinks.verify(config, tenantId, exportId, query);
}

// A forged or altered link is LINK_INVALID and an expired one (or one whose file is gone) LINK_EXPIRED,
// as with the one-time privacy links.
const LINK_CODES: Record<number, string> = { 403: "LINK_INVALID", 410: "LINK_EXPIRED" };

/**
 * Refuses a download link (person and tenant exports): a page saying what to do next for the browser
 * the link was opened in, else { error: { code, message } }. The request is the response's own.
 */
export function fail(res: ServerResponse, status: number, message: string): true {
  // A bare refusal ("This link is not valid", "Not found") says nothing to do: a page adds what to do next.
  const pageMessage = message.includes(":") ? message : NEXT_STEPS[status];
  return refuse(res, { status, code: LINK_CODES[status] ?? codeForStatus(status), message }, { html: acceptsHtml(res.req), pageMessage, headers: { "referrer-policy": "no-referrer" } });
}

const NEXT_STEPS: Record<number, string> = {
  403: "Open the link exactly as it was given to you, or ask for a new export.",
  404: "There is no file behind this link any more: ask for a new export.",
};

export function createPersonExportRoutes(app: App) {
  return async function handlePersonExports(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? "/", "http://laurel.internal");
    const match = PATH.exec(url.pathname);
    if (!match) return false;
    if (req.method !== "GET") return fail(res, 405, "Use GET");
    const [, tenantId, exportId] = match as unknown as [string, string, string];
    if (!UUID.test(tenantId) || !UUID.test(exportId)) return fail(res, 404, "Not found");
    const signed = verifyExportLink(app.config, tenantId, exportId, url.searchParams);
    // A forged or altered link learns nothing, not even whether the export exists.
    if (!signed) return fail(res, 403, "This link is not valid: open it exactly as it arrived in the email, or ask the organisation for a new export");
    const claims = { dbRole: app.config.roles.member, tenantId, userId: null };
    const caller = { tenantId, actor: { kind: "system" as const, id: null }, permissions: ROLE_PERMISSIONS.owner, requestId: null };
    const now = Date.now();
    const found = await withTenantTransaction(app.database, claims, async (db) => {
      const row = await db.personExport.findUnique({ where: { tenantId_id: { tenantId, id: exportId } }, select: { requestId: true, bytes: true, expiresAt: true } });
      if (!row) return null;
      const expired = signed.expires * 1000 <= now || row.expiresAt.getTime() <= now;
      await recordAudit(db, caller, {
        action: expired ? "person_export.refused_expired" : "person_export.downloaded",
        targetType: "DataSubjectRequest",
        targetId: row.requestId,
        details: { exportId },
      });
      return { expired, bytes: row.bytes };
    });
    if (!found) return fail(res, 404, "This export is no longer kept: ask the organisation for a new one");
    if (found.expired) return fail(res, 410, "This link has expired: ask the organisation for a new export");
    res.writeHead(200, {
      "content-type": "application/zip",
      "content-disposition": `attachment; filename="personal-data-${exportId}.zip"`,
      "content-length": String(found.bytes.length),
      "cache-control": "no-store",
    });
    res.end(Buffer.from(found.bytes));
    return true;
  };
}
