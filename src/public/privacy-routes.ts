// People acting for themselves, without an account (privacy/self-service.ts, privacy/links.ts):
//   GET  /privacy/ask/:tenant/:credential          the form: which right, and a correction if any
//   POST /privacy/ask/:tenant/:credential          emails a one-time link to the holder's address on record
//   GET  /privacy/links/:tenant/:link?v=&sig=      what using the link would do, and its button
//   POST /privacy/links/:tenant/:link?v=&sig=      uses it (once): records the request, the consent, ...
// Browsers get pages; a caller sending `accept: application/json` gets JSON, refusals as
// { error: { code, message } } with the same status (400, 403, 404, 410, 429).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { App } from "../context.js";
import { withTenantTransaction } from "../db/tenant-transaction.js";
import { ExpectedError, NotFoundError, ValidationError } from "../errors.js";
import { createRateLimiter } from "../lib/rate-limit.js";
import { readBody } from "../lib/read-body.js";
import { AlreadyErasedError } from "../modules/privacy/erasure.js";
import { describeLink, isSignedPrivacyLink, PrivacyLinkError, useLink } from "../modules/privacy/links.js";
import { askForPrivacyLink, requestAction, SELF_SERVICE_KINDS, TooManyLinksError } from "../modules/privacy/self-service.js";
import { escapeHtml, messagePage, page, sendPage } from "./html.js";

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const ASK = new RegExp(`^/privacy/ask/(${UUID})/(${UUID})$`);
const LINK = new RegExp(`^/privacy/links/(${UUID})/(${UUID})$`);
const MAX_FORM_BYTES = 8 * 1024;

/** A refusal's HTTP status and code: what the person can do about it, never more. */
function refusal(error: unknown): { status: number; code: string; message: string } | null {
  if (error instanceof PrivacyLinkError) return { status: error.status, code: error.code, message: error.message };
  if (error instanceof AlreadyErasedError) return { status: 410, code: "ALREADY_ERASED", message: "This person's data has been erased: nothing of theirs is left" };
  if (error instanceof TooManyLinksError) return { status: 429, code: "TOO_MANY_LINKS", message: error.message };
  // readBody's refusal of a body over MAX_FORM_BYTES: the client's to fix, never a server fault.
  if ((error as { status?: number } | null)?.status === 413) return { status: 413, code: "PAYLOAD_TOO_LARGE", message: `At most ${MAX_FORM_BYTES} bytes` };
  if (error instanceof NotFoundError) return { status: 404, code: "NOT_FOUND", message: "Not found" };
  if (error instanceof ValidationError) return { status: 400, code: "BAD_REQUEST", message: error.message };
  if (error instanceof ExpectedError) return { status: 400, code: "REFUSED", message: error.message };
  return null;
}

const wantsJson = (req: IncomingMessage) => /application\/json/.test(String(req.headers.accept ?? ""));

function answer(req: IncomingMessage, res: ServerResponse, status: number, json: unknown, html: () => ReturnType<typeof page>) {
  if (wantsJson(req)) {
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", "x-content-type-options": "nosniff" });
    res.end(JSON.stringify(json));
  } else sendPage(res, html(), status);
}

function refuse(req: IncomingMessage, res: ServerResponse, error: unknown): true {
  const r = refusal(error);
  if (!r) throw error;
  // The rest of an oversized body was never read: this connection cannot carry another request.
  if (r.status === 413) res.setHeader("connection", "close");
  answer(req, res, r.status, { error: { code: r.code, message: r.message } }, () => messagePage(r.status === 404 ? "Not found" : "This did not work", r.message));
  return true;
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const body = (await readBody(req, MAX_FORM_BYTES)).toString("utf8");
  if (String(req.headers["content-type"] ?? "").startsWith("application/json")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw ValidationError.field([], "The body is not JSON");
    }
    const form = new URLSearchParams();
    if (parsed && typeof parsed === "object") for (const [k, v] of Object.entries(parsed)) if (typeof v === "string") form.set(k, v);
    return form;
  }
  return new URLSearchParams(body);
}

const LABELS: Record<string, string> = {
  access: "A copy of my data",
  portability: "My data as files I can take elsewhere",
  rectification: "Correct my name or email address",
  restriction: "Keep my data but stop using it for now",
  objection: "Stop reminders, tracking and sharing with partners",
  consent_withdrawal: "Stop recording when I open emails or view my credentials",
  erasure: "Erase my data and withdraw my credentials",
};

function askPage(action: string): ReturnType<typeof page> {
  const options = SELF_SERVICE_KINDS.map((kind, i) => `
    <li><label><input type="radio" name="kind" value="${kind}"${i === 0 ? " required" : ""}> <strong>${escapeHtml(LABELS[kind])}</strong><br>
    <span class="muted">The organisation will ${escapeHtml(requestAction(kind, "en"))}.</span></label></li>`).join("");
  return page("Your data and your rights", () => `
  <h1>Your data and your rights</h1>
  <p>Choose what you want the organisation that issued this credential to do. We will email a link to the address this
  credential was sent to: the request is made only when that link is used, so only its holder can make it.</p>
  <form method="post" action="${escapeHtml(action)}">
    <ul style="list-style:none;padding:0;display:grid;gap:12px">${options}</ul>
    <fieldset><legend>For a correction: what is right</legend>
      <p><label>Name <input name="correctName" maxlength="200" autocomplete="name" dir="auto"></label></p>
      <p><label>Email address <input name="correctEmail" type="email" maxlength="320" autocomplete="email"></label></p>
    </fieldset>
    <div class="actions"><button class="primary" type="submit">Email me the link</button></div>
  </form>`);
}

function confirmPage(content: { title: string; paragraphs: string[]; action: string }, action: string): ReturnType<typeof page> {
  return page(content.title, () => `
  <h1>${escapeHtml(content.title)}</h1>
  ${content.paragraphs.map((p) => `<p dir="auto">${escapeHtml(p)}</p>`).join("")}
  <form method="post" action="${escapeHtml(action)}"><div class="actions"><button class="primary" type="submit" id="confirm">${escapeHtml(content.action)}</button></div></form>`);
}

export function createPrivacyRoutes(app: App) {
  // Per client address: a page of the form, a link, a confirmation; far below what a script needs to flood.
  const limiter = createRateLimiter({ perSecond: 2, burst: 60 });
  const inTenant = <T>(tenantId: string, work: Parameters<typeof withTenantTransaction<T>>[2]) =>
    withTenantTransaction(app.database, { dbRole: app.config.roles.member, tenantId, userId: null }, work);

  return async function handlePrivacy(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? "/", "http://laurel.internal");
    const ask = ASK.exec(url.pathname);
    const link = ask ? null : LINK.exec(url.pathname);
    if (!ask && !link) return false;
    if (req.method !== "GET" && req.method !== "POST") {
      res.writeHead(405, { allow: "GET, POST" }).end();
      return true;
    }
    if (!limiter.allow(req.socket.remoteAddress ?? "unknown")) {
      res.setHeader("retry-after", "2");
      answer(req, res, 429, { error: { code: "RATE_LIMITED", message: "Too many requests: slow down" } }, () => messagePage("Slow down", "Too many requests: try again in a moment."));
      return true;
    }
    try {
      if (ask) {
        const [, tenantId, credentialId] = ask as unknown as [string, string, string];
        if (req.method === "GET") {
          // The form names no one; whether the credential exists is learnt only by asking.
          sendPage(res, askPage(url.pathname));
          return true;
        }
        const form = await readForm(req);
        const sent = await inTenant(tenantId, (db) =>
          askForPrivacyLink(db, app, tenantId, credentialId, {
            kind: form.get("kind") ?? "",
            correctName: form.get("correctName"),
            correctEmail: form.get("correctEmail"),
          }),
        );
        answer(req, res, 202, { sent: true, expiresAt: sent.expiresAt.toISOString() }, () =>
          messagePage("Check your inbox", "We have emailed a link to the address this credential was sent to. Your request is made when you open that link and confirm; it works once, for 24 hours."),
        );
        return true;
      }
      const [, tenantId, linkId] = link as unknown as [string, string, string];
      // A forged or altered link learns nothing, not even whether the link exists.
      if (!isSignedPrivacyLink(app.config, tenantId, linkId, url.searchParams)) throw new PrivacyLinkError("LINK_INVALID", "This link is not valid");
      if (req.method === "GET") {
        const content = await inTenant(tenantId, (db) => describeLink(db, tenantId, linkId));
        answer(req, res, 200, content, () => confirmPage(content, `${url.pathname}${url.search}`));
        return true;
      }
      const done = await inTenant(tenantId, (db) => useLink(db, app.config, tenantId, linkId));
      answer(req, res, 200, done, () => messagePage(done.title, done.message));
      return true;
    } catch (error) {
      return refuse(req, res, error);
    }
  };
}
