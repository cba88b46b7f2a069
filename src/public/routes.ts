// Public HTTP endpoints: no authentication, rate limited, and only what a credential itself shows.
//   GET  /issuers/:tenant                     OB 3.0 issuer Profile
//   GET  /issuers/:tenant/did.json            DID document (every key, retired ones too)
//   GET  /issuers/:tenant/credentials/:id     the signed credential (JSON), or its page for browsers
//   GET  /issuers/:tenant/status/:list        the signed BitstringStatusListCredential
//   GET  /issuers/:tenant/credentials/:id/badge.png|svg   the badge with the credential baked in
//   GET  /issuers/:tenant/credentials/:id/preview.png  its 1200×630 share preview (Open Graph image; 404 for a child's)
//   GET  /issuers/:tenant/credentials/:id/certificate.pdf a printable certificate, the credential attached
//   GET  /issuers/:tenant/credentials/:id/certificate.png the same certificate as a picture (1600 px wide)
//                                             (422 UNPRINTABLE_TEXT when a text has characters no font we embed draws)
//   GET  /issuers/:tenant/achievements/:template/v:n      the OB 3.0 Achievement
//   GET  /v/:code                             302 to a credential's page (short address, credentials/short-url.ts)
//   GET  .../ob2 (issuer, credential, achievement)        OB 2.0 Issuer, Assertion, BadgeClass (hosted)
//   GET  /images/:tenant/:id                  an uploaded image
//   POST /verify                              a verification report for a credential (JSON, PNG/SVG badge or PDF body)
//   GET  /verify                              the verify page
// Views, downloads and verifications of our credentials are handed to the engagement buffer; the
// tracking endpoints themselves (pixel, clicks, shares, claims) live in modules/engagement/routes.ts.
// Refusals: { "error": { "code", "message" } } with the status, or a short page for a browser.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { App } from "../context.js";
import {
  bakedBadge,
  holderIsChild,
  issuerDidDocument,
  issuerProfileDocument,
  loadCredential,
  loadImage,
  statusListCredential,
  type PublicContext,
  publicCredentialState,
} from "../modules/credentials/public.js";
import { unbakePng, unbakeSvg } from "../modules/credentials/baking.js";
import { certificatePdf, certificatePng, UnprintableTextError } from "../modules/credentials/certificate-pdf.js";
import { credentialFromPdf, PdfCredentialError } from "../modules/credentials/pdf-attachment.js";
import { recipientNameOf } from "../modules/credentials/document.js";
import { shortLinkTarget } from "../modules/credentials/short-url.js";
import { designForCredential } from "../modules/designs/public.js";
import { loadAchievement, ob2Assertion, ob2BadgeClass, ob2Issuer, ob3Achievement } from "../modules/credentials/ob2.js";
import { verifyCredential } from "../modules/credentials/verify.js";
import { tenantOfDid } from "../modules/issuers/identity.js";
import { createRateLimiter } from "../lib/rate-limit.js";
import { readBody } from "../lib/read-body.js";
import { createEngagementRoutes, requestFacts, withFacts } from "../modules/engagement/routes.js";
import type { EngagementInput, EngagementRecorder } from "../modules/engagement/ingest.js";
import { credentialPage, statusLabel, verifyPage } from "./credential-page.js";
import { previewPng } from "./preview-image.js";
import { sendPage } from "./html.js";
import { acceptsHtml, codeForStatus, refuse, type Refusal } from "../lib/http-answers.js";

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const routes: [RegExp, string][] = [
  [new RegExp(`^/issuers/(${UUID})$`), "profile"],
  [new RegExp(`^/issuers/(${UUID})/did\\.json$`), "did"],
  [new RegExp(`^/issuers/(${UUID})/credentials/(${UUID})$`), "credential"],
  [new RegExp(`^/issuers/(${UUID})/status/(${UUID})$`), "status"],
  [new RegExp(`^/issuers/(${UUID})/credentials/(${UUID})/badge\\.(png|svg)$`), "badge"],
  [new RegExp(`^/issuers/(${UUID})/credentials/(${UUID})/certificate\\.(pdf|png)$`), "certificate"],
  [new RegExp(`^/issuers/(${UUID})/credentials/(${UUID})/preview\\.png$`), "preview"],
  [new RegExp(`^/images/(${UUID})/(${UUID})$`), "image"],
  [new RegExp(`^/issuers/(${UUID})/ob2$`), "ob2-issuer"],
  [new RegExp(`^/issuers/(${UUID})/credentials/(${UUID})/ob2$`), "ob2-assertion"],
  [new RegExp(`^/issuers/(${UUID})/achievements/(${UUID})/v(\\d{1,9})$`), "achievement"],
  [new RegExp(`^/issuers/(${UUID})/achievements/(${UUID})/v(\\d{1,9})/ob2$`), "ob2-badgeclass"],
  [/^\/verify$/, "verify"],
  [/^\/v\/([^/]*)$/, "short"], // GET /v/<code>: 302 to the credential's page (credentials/short-url.ts)
];

function send(res: ServerResponse, status: number, body: unknown, type = "application/json") {
  res.writeHead(status, {
    "content-type": `${type}; charset=utf-8`,
    "access-control-allow-origin": "*",
    "cache-control": status === 200 && type !== "text/html" ? "public, max-age=60" : "no-store",
    "x-content-type-options": "nosniff",
  });
  res.end(typeof body === "string" ? body : JSON.stringify(body, null, 2));
}

// Anyone may read what these routes publish, from any origin: their refusals too.
const CORS = { "access-control-allow-origin": "*" };

/** A browser navigating here (not the page's own "Download JSON" link, which asks for ?format=json). */
const browser = (req: IncomingMessage) => acceptsHtml(req) && !/[?&]format=json/.test(req.url ?? "");

function fail(req: IncomingMessage, res: ServerResponse, refusal: Refusal, title?: string): true {
  return refuse(res, refusal, { html: browser(req), headers: CORS, title });
}

const NOT_FOUND: Refusal = { status: 404, code: "NOT_FOUND", message: "Nothing is published at this address: check the link you followed" };

/** An erased holder's credential is gone for good (GDPR Art. 17): 410, not 404, so links stop being retried. */
async function sendMissing(ctx: PublicContext, req: IncomingMessage, res: ServerResponse, tenantId: string, credentialId: string) {
  if ((await publicCredentialState(ctx, tenantId, credentialId)) === "gone") {
    fail(req, res, { status: 410, code: "GONE", message: "This credential was withdrawn and its holder's personal data erased at their request" }, "Credential withdrawn");
  } else fail(req, res, NOT_FOUND);
}

/**
 * A credential as JSON, baked into a PNG or SVG badge, or attached to a PDF (a certificate: exactly one
 * Verifiable Credential attachment, credentials/pdf-attachment.ts). Not an image or PDF it says it is: 400;
 * none or several credentials in it: 422; a body (or a PDF attachment inflated) over `limit` bytes: 413.
 */
async function readCredential(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = String(req.headers["content-type"] ?? "");
  if (/^application\/pdf\b/i.test(type)) return credentialFromPdf(await readBody(req, limit), limit);
  if (!/^image\/(png|svg\+xml)/.test(type)) return readJson(req, limit);
  const bytes = await readBody(req, limit);
  let text: string | null;
  try {
    text = type.startsWith("image/png") ? unbakePng(bytes) : unbakeSvg(bytes.toString("utf8"));
  } catch (error) {
    throw Object.assign(new Error(`Cannot read the image: ${(error as Error).message}`), { status: 400 });
  }
  if (!text) throw Object.assign(new Error("This image carries no Open Badges credential"), { status: 422 });
  try {
    return JSON.parse(text);
  } catch {
    throw Object.assign(new Error("The credential baked into the image is not JSON"), { status: 422 });
  }
}

async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const body = await readBody(req, limit);
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw Object.assign(new Error("The body must be a credential as JSON"), { status: 400 });
  }
}

/** The tenant and credential a verified document names, when it is one of ours. */
function ourCredential(publicUrl: string, id: string | null): [string, string] | null {
  const prefix = `${publicUrl}/issuers/`;
  const m = id?.startsWith(prefix) ? /^([0-9a-f-]{36})\/credentials\/([0-9a-f-]{36})$/.exec(id.slice(prefix.length)) : null;
  return m ? [m[1]!, m[2]!] : null;
}

export function createPublicRoutes(app: App, engagement: EngagementRecorder) {
  const ctx: PublicContext = {
    database: app.database,
    roles: app.config.roles,
    settings: { publicUrl: app.config.publicUrl, keks: app.config.keks },
  };
  const limiter = createRateLimiter({ perSecond: 20, burst: 60 });
  const handleEngagement = createEngagementRoutes(ctx, engagement);
  const track = (req: IncomingMessage, event: Omit<EngagementInput, "uaClass" | "machine" | "ipHash">) =>
    engagement.record(withFacts(event, requestFacts(req, app.config.keks)));
  return async function handlePublic(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    if (await handleEngagement(req, res)) return true;
    const path = (req.url ?? "/").split("?")[0]!;
    const route = routes.find(([pattern]) => pattern.test(path));
    if (!route) return false;
    const [pattern, name] = route;
    const [, a, b, c] = pattern.exec(path)!;
    if (!limiter.allow(req.socket.remoteAddress ?? "unknown")) {
      res.setHeader("retry-after", "1");
      return fail(req, res, { status: 429, code: "RATE_LIMITED", message: "Too many requests: slow down and try again in a moment" });
    }
    const wantsHtml = browser(req);
    if (name === "verify" && req.method === "GET") {
      sendPage(res, verifyPage());
      return true;
    }
    const method = name === "verify" ? "POST" : "GET";
    if (req.method === "OPTIONS") {
      res.writeHead(204, { "access-control-allow-origin": "*", "access-control-allow-methods": `${method}, OPTIONS`, "access-control-allow-headers": "content-type" });
      res.end();
      return true;
    }
    if (req.method !== method && !(method === "GET" && req.method === "HEAD")) {
      return fail(req, res, { status: 405, code: "METHOD_NOT_ALLOWED", message: `Use ${method}` });
    }
    try {
      let body: unknown = null;
      if (name === "profile") body = await issuerProfileDocument(ctx, a!);
      else if (name === "did") body = await issuerDidDocument(ctx, a!);
      else if (name === "credential") {
        const credential = await loadCredential(ctx, a!, b!);
        if (credential && wantsHtml) {
          const pageUrl = `${app.config.publicUrl}/issuers/${a}/credentials/${b}`;
          sendPage(res, credentialPage(credential, b!, { child: await holderIsChild(ctx, a!, b!), pageUrl }));
          track(req, { tenantId: a!, credentialId: b!, type: "page_viewed", channel: "web" });
          return true;
        }
        body = credential?.document ?? null;
        // The page's download link asks for ?format=json; anything else fetching the JSON is a program.
        if (credential) track(req, { tenantId: a!, credentialId: b!, type: "downloaded", format: "json", channel: /[?&]format=json/.test(req.url ?? "") ? "web" : "api" });
      }
      else if (name === "short") {
        const target = await shortLinkTarget(ctx, a!);
        if (!target) return fail(req, res, NOT_FOUND);
        res.writeHead(302, { location: target, "cache-control": "no-store", ...CORS }).end();
        return true;
      }
      else if (name === "status") body = await statusListCredential(ctx, a!, b!);
      else if (name === "ob2-issuer") body = await ob2Issuer(ctx, a!, app.config.email.defaultFrom);
      else if (name === "ob2-assertion") {
        const credential = await loadCredential(ctx, a!, b!);
        body = credential && ob2Assertion(credential);
      } else if (name === "achievement" || name === "ob2-badgeclass") {
        const achievement = await loadAchievement(ctx, a!, b!, Number(c));
        body = achievement && (await (name === "achievement" ? ob3Achievement : ob2BadgeClass)(ctx, a!, b!, Number(c), achievement));
      }
      else if (name === "certificate") {
        const credential = await loadCredential(ctx, a!, b!);
        if (!credential) await sendMissing(ctx, req, res, a!, b!);
        else {
          // The same certificate drawn as a PNG (certificatePng: same layouts, nothing attached) or a PDF.
          const format = c === "png" ? "png" : "pdf";
          let file: Buffer;
          try {
            const design = await designForCredential(ctx, a!, b!);
            const options = { timeZone: credential.timeZone, recipientName: recipientNameOf(credential.document), design };
            file = await (format === "png" ? certificatePng : certificatePdf)(credential, `${app.config.publicUrl}/verify`, options);
          } catch (error) {
            if (!(error instanceof UnprintableTextError)) throw error;
            // Never boxes in a signed certificate: say which characters, so the issuer can act.
            return fail(req, res, { status: 422, code: error.code, message: error.message, details: { fields: error.fields } }, "This certificate cannot be printed");
          }
          res.writeHead(200, {
            "content-type": format === "png" ? "image/png" : "application/pdf",
            "content-disposition": `inline; filename="certificate-${b}.${format}"`,
            "x-content-type-options": "nosniff",
            "cache-control": "no-store",
          });
          res.end(file);
          track(req, { tenantId: a!, credentialId: b!, type: "downloaded", format, channel: "web" });
        }
        return true;
      }
      else if (name === "preview") {
        const credential = await loadCredential(ctx, a!, b!);
        // A child's credential is never offered to social networks: no preview made for them either.
        if (!credential) await sendMissing(ctx, req, res, a!, b!);
        else if (await holderIsChild(ctx, a!, b!)) fail(req, res, NOT_FOUND);
        else {
          const badge = (await bakedBadge(ctx, a!, b!, "png"))!;
          const vc = credential.document as Record<string, any>;
          const status = statusLabel(credential);
          const png = previewPng({
            title: String(vc.credentialSubject?.achievement?.name ?? vc.name ?? "Credential"),
            recipientName: recipientNameOf(vc),
            issuerName: String(vc.issuer?.name ?? ""),
            statusText: status.tone === "valid" ? null : status.text,
          }, badge.body);
          res.writeHead(200, { "content-type": "image/png", "x-content-type-options": "nosniff", "cache-control": "public, max-age=300", "access-control-allow-origin": "*" });
          res.end(png);
        }
        return true;
      }
      else if (name === "badge" || name === "image") {
        const file = name === "badge" ? await bakedBadge(ctx, a!, b!, c as "png" | "svg") : await loadImage(ctx, a!, b!).then((i) => i && { contentType: i.contentType, body: i.bytes });
        if (!file) await (name === "badge" ? sendMissing(ctx, req, res, a!, b!) : fail(req, res, NOT_FOUND));
        else {
          res.writeHead(200, {
            "content-type": file.contentType,
            "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'", // an SVG opened directly runs no script
            "x-content-type-options": "nosniff",
            "cache-control": name === "image" ? "public, max-age=86400, immutable" : "no-store",
            ...(name === "badge" ? { "content-disposition": `inline; filename="badge-${b}.${c}"` } : {}),
          });
          res.end(file.body);
          // The page's own <img> (?view=page) shows the badge: a view, not a download.
          if (name === "badge" && !/[?&]view=/.test(req.url ?? "")) track(req, { tenantId: a!, credentialId: b!, type: "downloaded", format: c as "png" | "svg", channel: "web" });
        }
        return true;
      } else {
        const report = await verifyCredential(ctx, await readCredential(req, app.config.maxBodyBytes));
        // Counted only for a genuine credential of ours: a forged or foreign document verifies nothing.
        // The proof must be by that tenant's own key: a self-signed document naming our URL is not ours.
        const ours = report.proof.ok && report.issuer.ok ? ourCredential(app.config.publicUrl, report.credentialId) : null;
        if (ours && report.issuer.id && tenantOfDid(app.config.publicUrl, report.issuer.id) === ours[0]) {
          track(req, { tenantId: ours[0], credentialId: ours[1], type: "verified", channel: "verifier" });
        }
        body = report;
      }
      if (body === null && (name === "credential" || name === "ob2-assertion")) await sendMissing(ctx, req, res, a!, b!);
      else if (body === null) fail(req, res, NOT_FOUND);
      else send(res, 200, body, name === "verify" ? "application/json" : "application/ld+json");
    } catch (error) {
      const status = (error as { status?: number }).status;
      if ((error as NodeJS.ErrnoException).code === "ECONNRESET" || res.destroyed) res.destroy(); // the client hung up
      else if (status) fail(req, res, { status, code: error instanceof PdfCredentialError ? error.code : codeForStatus(status), message: (error as Error).message });
      else {
        console.error("public route failed", error);
        fail(req, res, { status: 500, code: "INTERNAL_SERVER_ERROR", message: "Something went wrong on our side" });
      }
    }
    return true;
  };
}
