// Engagement endpoints: the open pixel, tracked click redirects, share links and the claim link. Each
// answers from memory (a token check, a hand-off to the buffer); only share and claim read the
// credential, to build the share target and the claim page.
//   GET  /t/o/<token>.gif                                 1x1 GIF, always; records email_opened
//   GET  /t/c/<token>?u=<target>                          302 to exactly the signed target; link_clicked
//   GET  /issuers/:tenant/credentials/:id/share/:network  302 to a URL built here; shared / linkedin_added
//   GET  /issuers/:tenant/credentials/:id/claim?token=    the claim page (a button; scanners only GET)
//   POST /issuers/:tenant/credentials/:id/claim           token in the body; claimed
import type { IncomingMessage, ServerResponse } from "node:http";
import { createRateLimiter } from "../../lib/rate-limit.js";
import { holderIsChild, loadCredential, type PublicContext } from "../credentials/public.js";
import { claimPage, SHARE_NETWORKS, shareTargets, SOCIAL_NETWORKS, type ShareNetwork } from "../../public/credential-page.js";
import { sendPage } from "../../lib/html.js";
import { asksForJson, codeForStatus, refuse } from "../../lib/http-answers.js";
import { classifyRequest, hashIp } from "./classify.js";
import { isRedirectable, verifyToken } from "./tracking.js";
import type { EngagementInput, EngagementRecorder } from "./ingest.js";

const GIF = Buffer.from("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7", "base64");
const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const SHARE = new RegExp(`^/issuers/(${UUID})/credentials/(${UUID})/share/([a-z-]{1,20})$`);
const CLAIM = new RegExp(`^/issuers/(${UUID})/credentials/(${UUID})/claim$`);
const PIXEL = /^\/t\/o\/([A-Za-z0-9_-]{1,120})\.gif$/;
const CLICK = /^\/t\/c\/([A-Za-z0-9_-]{1,120})$/;

type Facts = Pick<EngagementInput, "uaClass" | "machine" | "ipHash">;

/** Device class, machine flag and the day's IP hash for one request; the raw address goes no further. */
export function requestFacts(req: IncomingMessage, keks: ReadonlyMap<number, Buffer>, extra: { pixel?: boolean; sentAt?: Date } = {}): Facts {
  const { uaClass, machine } = classifyRequest({ userAgent: req.headers["user-agent"], method: req.method, ...extra });
  return { uaClass, machine, ipHash: hashIp(keks, req.socket.remoteAddress) };
}

/** The event with its request facts, spelled out: object spread costs more on this path than the rest. */
export function withFacts(e: Omit<EngagementInput, keyof Facts>, f: Facts): EngagementInput {
  return {
    tenantId: e.tenantId, credentialId: e.credentialId, messageId: e.messageId ?? null, type: e.type, channel: e.channel,
    network: e.network ?? null, format: e.format ?? null, uaClass: f.uaClass, ipHash: f.ipHash, machine: f.machine,
  };
}

function redirect(res: ServerResponse, location: string, status = 302) {
  res.writeHead(status, { location, "cache-control": "no-store", "referrer-policy": "no-referrer", "content-length": "0" });
  res.end();
}

/** Answers a link that does not check out (a page, or JSON to a caller asking for it); true, as the handler returns. */
function notValid(req: IncomingMessage, res: ServerResponse, status: number): true {
  const json = asksForJson(req) || String(req.headers["content-type"] ?? "").startsWith("application/json");
  const message = status === 405 ? "This link is only followed, never sent to" : "The link is incomplete or was changed. Open it again from the original message.";
  return refuse(res, { status, code: codeForStatus(status), message }, { html: !json, title: "This link does not work" });
}

async function readForm(req: IncomingMessage, limit = 4096): Promise<URLSearchParams | Record<string, unknown> | null> {
  let text = "";
  try {
    for await (const chunk of req) {
      text += String(chunk);
      if (text.length > limit) return null;
    }
  } catch {
    return null; // the client went away mid-body
  }
  if (String(req.headers["content-type"] ?? "").startsWith("application/json")) {
    try {
      const json = JSON.parse(text) as unknown;
      return json && typeof json === "object" ? (json as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  }
  return new URLSearchParams(text);
}

export function createEngagementRoutes(ctx: PublicContext, recorder: EngagementRecorder) {
  const keks = ctx.settings.keks;
  // Per address, like the other public routes, but far higher: Gmail's image proxy, Apple's relays and
  // a company's link scanner each fetch for thousands of recipients from a handful of addresses, and a
  // campaign's opens arrive in bursts. The limit only bounds what one address can add to the event
  // table: over it, the pixel still answers and the link still redirects, nothing is recorded.
  const limiter = createRateLimiter({ perSecond: 500, burst: 5_000 });
  // Reading a credential (share link not yet cached, claim page) costs a query: the public routes' limit.
  const reads = createRateLimiter({ perSecond: 20, burst: 60 });
  const tooMany = (req: IncomingMessage, res: ServerResponse) => {
    if (reads.allow(req.socket.remoteAddress ?? "unknown")) return false;
    res.setHeader("retry-after", "1");
    return refuse(res, { status: 429, code: "RATE_LIMITED", message: "Too many requests: slow down and try again in a moment" }, { html: !asksForJson(req) });
  };
  const record = (req: IncomingMessage, event: Omit<EngagementInput, keyof Facts>, extra?: { pixel?: boolean; sentAt?: Date }) => {
    if (limiter.allow(req.socket.remoteAddress ?? "unknown")) recorder.record(withFacts(event, requestFacts(req, keks, extra)));
  };
  // Share targets depend only on the signed (immutable) credential and whether its holder is a child
  // (who has none on social networks): remember recent ones.
  const targets = new Map<string, Partial<Record<ShareNetwork, string>> | null>();

  return async function handleEngagement(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = req.url ?? "/";
    const [path, query = ""] = url.split("?", 2) as [string, string?];
    const method = req.method ?? "GET";
    let m: RegExpExecArray | null;

    if (path.startsWith("/t/o/")) {
      // Always the image, whatever the token: a broken image in an email helps nobody.
      const token = (m = PIXEL.exec(path)) && verifyToken(ctx.settings, m[1]!);
      if (token?.kind === "open" && (method === "GET" || method === "HEAD")) {
        record(req, { tenantId: token.tenantId, credentialId: token.credentialId, messageId: token.messageId, type: "email_opened", channel: "email" }, { pixel: true });
      }
      res.writeHead(200, { "content-type": "image/gif", "content-length": String(GIF.length), "cache-control": "no-store, private", "x-content-type-options": "nosniff" });
      res.end(method === "HEAD" ? undefined : GIF);
      return true;
    }

    if (path.startsWith("/t/c/")) {
      if (method !== "GET" && method !== "HEAD") return notValid(req, res, 405);
      const target = new URLSearchParams(query).get("u") ?? "";
      const token = (m = CLICK.exec(path)) && isRedirectable(target) ? verifyToken(ctx.settings, m[1]!, target) : null;
      if (!token || token.kind !== "click") return notValid(req, res, m ? 400 : 404);
      const linkedin = token.purpose === "linkedin";
      record(
        req,
        { tenantId: token.tenantId, credentialId: token.credentialId, messageId: token.messageId, type: linkedin ? "linkedin_added" : "link_clicked", channel: "email", network: linkedin ? "linkedin" : null },
        { sentAt: token.issuedAt },
      );
      redirect(res, target);
      return true;
    }

    if ((m = SHARE.exec(path))) {
      const [, tenantId, credentialId, network] = m as unknown as [string, string, string, string];
      if (!(SHARE_NETWORKS as readonly string[]).includes(network)) return notValid(req, res, 404);
      if (method !== "GET" && method !== "HEAD") return notValid(req, res, 405);
      const key = `${tenantId}/${credentialId}`;
      let built = targets.get(key);
      if (built === undefined) {
        if (tooMany(req, res)) return true;
        const credential = await loadCredential(ctx, tenantId, credentialId);
        built = credential && shareTargets(credential, credentialId);
        if (built && (await holderIsChild(ctx, tenantId, credentialId))) {
          built = Object.fromEntries(Object.entries(built).filter(([n]) => !SOCIAL_NETWORKS.includes(n as ShareNetwork)));
        }
        if (targets.size >= 5_000) targets.delete(targets.keys().next().value!);
        targets.set(key, built);
      }
      const target = built?.[network as ShareNetwork];
      if (!target) return notValid(req, res, 404);
      const add = network === "linkedin-add";
      record(req, { tenantId, credentialId, type: add ? "linkedin_added" : "shared", channel: network.startsWith("linkedin") ? "linkedin" : "social", network: add ? "linkedin" : network });
      redirect(res, target);
      return true;
    }

    if ((m = CLAIM.exec(path))) {
      const [, tenantId, credentialId] = m as unknown as [string, string, string];
      if (method === "GET") {
        if (tooMany(req, res)) return true;
        const raw = new URLSearchParams(query).get("token") ?? "";
        const token = verifyToken(ctx.settings, raw);
        const credential = token?.kind === "claim" && token.tenantId === tenantId && token.credentialId === credentialId
          ? await loadCredential(ctx, tenantId, credentialId) : null;
        if (!credential) return notValid(req, res, 404);
        sendPage(res, claimPage(credential, raw));
        return true;
      }
      if (method !== "POST") return notValid(req, res, 405);
      const body = await readForm(req);
      const raw = body instanceof URLSearchParams ? body.get("token") : body?.token;
      const token = typeof raw === "string" ? verifyToken(ctx.settings, raw) : null;
      const json = String(req.headers["content-type"] ?? "").startsWith("application/json");
      // Another tenant's or another credential's token is simply not a token for this page.
      if (!token || token.kind !== "claim" || token.tenantId !== tenantId || token.credentialId !== credentialId) {
        return notValid(req, res, 404);
      }
      record(req, { tenantId, credentialId, messageId: token.messageId, type: "claimed", channel: "web" });
      if (json) res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" }).end(JSON.stringify({ claimed: true }));
      else redirect(res, `/issuers/${tenantId}/credentials/${credentialId}`, 303);
      return true;
    }
    return false;
  };
}
