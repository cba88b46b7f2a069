// People acting for themselves, without an account (privacy/self-service.ts, privacy/links.ts):
//   GET  /privacy/ask/:tenant/:credential          the form: which right, and a correction if any
//   POST /privacy/ask/:tenant/:credential          emails a one-time link to the holder's address on record
//   GET  /privacy/links/:tenant/:link?v=&sig=      what using the link would do, and its button
//   POST /privacy/links/:tenant/:link?v=&sig=      uses it (once): records the request, the consent, ...
// Browsers get pages, in one language: the holder's when French, else English (privacy/self-service-texts.ts);
// before a holder is known (a link that does not check out) the browser's Accept-Language decides. A
// refusal's page says what to do next, and a form's problem shows the form again with what was typed.
// A caller sending `accept: application/json` gets JSON, refusals as { error: { code, message } } with
// the same status (400, 403, 404, 410, 413, 429).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { App } from "../context.js";
import { withTenantTransaction } from "../db/tenant-transaction.js";
import { ExpectedError, NotFoundError, ValidationError } from "../errors.js";
import { asksForJson, refuse, sendJson, type Refusal } from "../lib/http-answers.js";
import { createRateLimiter } from "../lib/rate-limit.js";
import { bodyTooLarge, declaresTooLarge, readForm } from "../lib/read-body.js";
import { AlreadyErasedError } from "../modules/privacy/erasure.js";
import { describeLink, isSignedPrivacyLink, PrivacyLinkError, useLink } from "../modules/privacy/links.js";
import { askForPrivacyLink, askFormFacts, linkSetting, requestAction, SELF_SERVICE_KINDS, TooManyLinksError } from "../modules/privacy/self-service.js";
import { languageOfBrowser, selfServiceTexts, type SelfServiceLanguage, type SelfServiceTexts } from "../modules/privacy/self-service-texts.js";
import { escapeHtml, messagePage, page, sendPage, type NextStep, type Page } from "./html.js";

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const ASK = new RegExp(`^/privacy/ask/(${UUID})/(${UUID})$`);
const LINK = new RegExp(`^/privacy/links/(${UUID})/(${UUID})$`);
const MAX_FORM_BYTES = 8 * 1024;

class RateLimitedError extends ExpectedError {
  override name = "RateLimitedError";
  constructor() {
    super("Too many requests: slow down");
  }
}

/** A refusal's HTTP status and code: what the person can do about it, never more. */
function refusal(error: unknown): Refusal | null {
  if (error instanceof RateLimitedError) return { status: 429, code: "RATE_LIMITED", message: error.message };
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

/** Where a refusal's page is: its language, and the form to go back to when there is one. */
interface Setting {
  language: SelfServiceLanguage;
  form: string | null;
}

function refuseIn(req: IncomingMessage, res: ServerResponse, error: unknown, setting: Setting): true {
  const r = refusal(error);
  if (!r) throw error;
  // The rest of an oversized body was never read: this connection cannot carry another request.
  const headers: Record<string, string> = r.status === 413 ? { connection: "close" } : {};
  if (r.status === 429 && r.code === "RATE_LIMITED") headers["retry-after"] = "2";
  const texts = selfServiceTexts(setting.language);
  // English pages may say the service's own sentence (a refusal's reason); French ones say ours, never a mix.
  const words = texts.refusals[r.code] ?? (setting.language === "en" ? { title: texts.other.title, message: r.message } : texts.other);
  const back = setting.form && ["LINK_USED", "LINK_EXPIRED", "PAYLOAD_TOO_LARGE", "BAD_REQUEST", "REFUSED"].includes(r.code);
  const next: NextStep[] = back ? [{ href: setting.form!, label: r.code === "LINK_EXPIRED" ? texts.next.askAgain : texts.next.backToForm, primary: true }] : [];
  return refuse(res, r, { html: !asksForJson(req), title: words.title, pageMessage: words.message, lang: setting.language, next, headers });
}

interface Typed {
  kind: string;
  correctName: string;
  correctEmail: string;
}

/** The form, naming the organisation; again with its problem and what was typed when something was wrong. */
function askPage(texts: SelfServiceTexts, language: SelfServiceLanguage, organisation: string, action: string, typed?: Typed, problem?: string): Page {
  const options = SELF_SERVICE_KINDS.map((kind, i) => `
    <li><label><input type="radio" name="kind" value="${kind}"${i === 0 ? " required" : ""}${typed?.kind === kind ? " checked" : ""}> <strong>${escapeHtml(texts.labels[kind])}</strong><br>
    <span class="muted">${escapeHtml(texts.ask.willDo(organisation, requestAction(kind, language)))}</span></label></li>`).join("");
  return page(texts.ask.title, () => `
  <h1>${escapeHtml(texts.ask.title)}</h1>
  <p>${escapeHtml(texts.ask.intro(organisation))}</p>
  ${problem ? `<p class="problem" role="alert" id="problem">${escapeHtml(problem)}</p>` : ""}
  <form method="post" action="${escapeHtml(action)}">
    <ul style="list-style:none;padding:0;display:grid;gap:12px">${options}</ul>
    <fieldset><legend>${escapeHtml(texts.ask.correction)}</legend>
      <p><label>${escapeHtml(texts.ask.name)} <input name="correctName" maxlength="200" autocomplete="name" dir="auto" value="${escapeHtml(typed?.correctName ?? "")}"></label></p>
      <p><label>${escapeHtml(texts.ask.email)} <input name="correctEmail" type="email" maxlength="320" autocomplete="email" value="${escapeHtml(typed?.correctEmail ?? "")}"></label></p>
    </fieldset>
    <div class="actions"><button class="primary" type="submit">${escapeHtml(texts.ask.submit)}</button></div>
  </form>`, { lang: language });
}

/** A form problem in the page's language: ours for the form's own fields, the service's in English. */
function problemText(error: ValidationError, texts: SelfServiceTexts, language: SelfServiceLanguage): string {
  const field = error.fieldErrors[0]?.path.at(-1);
  if (field === "kind") return texts.problems.kind;
  if (error.message.startsWith("Say what is wrong")) return texts.problems.correction;
  if (language === "en") return error.message;
  return (field === "correctEmail" ? texts.problems.correctEmail : texts.problems.correctName) ?? texts.other.message;
}

function confirmPage(content: { title: string; paragraphs: string[]; action: string; language?: SelfServiceLanguage }, action: string): Page {
  return page(content.title, () => `
  <h1>${escapeHtml(content.title)}</h1>
  ${content.paragraphs.map((p) => `<p dir="auto">${escapeHtml(p)}</p>`).join("")}
  <form method="post" action="${escapeHtml(action)}"><div class="actions"><button class="primary" type="submit" id="confirm">${escapeHtml(content.action)}</button></div></form>`, { lang: content.language ?? "en" });
}

export function createPrivacyRoutes(app: App) {
  // Per client address: a page of the form, a link, a confirmation; far below what a script needs to flood.
  const limiter = createRateLimiter(app.config.privacyRate);
  const inTenant = <T>(tenantId: string, work: Parameters<typeof withTenantTransaction<T>>[2]) =>
    withTenantTransaction(app.database, { dbRole: app.config.roles.member, tenantId, userId: null }, work);
  const answer = (req: IncomingMessage, res: ServerResponse, status: number, json: unknown, html: () => Page) => {
    if (asksForJson(req)) sendJson(res, status, json);
    else sendPage(res, html(), status);
  };

  async function handleAsk(req: IncomingMessage, res: ServerResponse, url: URL, tenantId: string, credentialId: string): Promise<true> {
    let setting: Setting = { language: languageOfBrowser(req.headers["accept-language"]), form: url.pathname };
    try {
      // Unknown (404) or erased (410) at once; otherwise the organisation's name and the holder's language.
      const facts = await inTenant(tenantId, (db) => askFormFacts(db, tenantId, credentialId));
      setting = { ...setting, language: facts.language };
      const texts = selfServiceTexts(facts.language);
      if (req.method === "GET") {
        answer(req, res, 200, { organisation: facts.organisation, kinds: SELF_SERVICE_KINDS }, () => askPage(texts, facts.language, facts.organisation, url.pathname));
        return true;
      }
      const form = await readForm(req, MAX_FORM_BYTES);
      const typed: Typed = { kind: form.get("kind") ?? "", correctName: form.get("correctName") ?? "", correctEmail: form.get("correctEmail") ?? "" };
      let sent: { expiresAt: Date };
      try {
        sent = await inTenant(tenantId, (db) => askForPrivacyLink(db, app, tenantId, credentialId, typed));
      } catch (error) {
        if (!(error instanceof ValidationError) || asksForJson(req)) throw error;
        // The form again, with the problem and what was typed: nothing is lost by a mistake.
        sendPage(res, askPage(texts, facts.language, facts.organisation, url.pathname, typed, problemText(error, texts, facts.language)), 400);
        return true;
      }
      answer(req, res, 202, { sent: true, expiresAt: sent.expiresAt.toISOString() }, () => messagePage(texts.sent.title, texts.sent.message, { lang: facts.language }));
      return true;
    } catch (error) {
      return refuseIn(req, res, error, setting);
    }
  }

  async function handleLink(req: IncomingMessage, res: ServerResponse, url: URL, tenantId: string, linkId: string): Promise<true> {
    const browser: Setting = { language: languageOfBrowser(req.headers["accept-language"]), form: null };
    // A forged or altered link learns nothing, not even whether the link exists.
    if (!isSignedPrivacyLink(app.config, tenantId, linkId, url.searchParams)) {
      return refuseIn(req, res, new PrivacyLinkError("LINK_INVALID", "This link is not valid"), browser);
    }
    try {
      if (req.method === "GET") {
        const content = await inTenant(tenantId, (db) => describeLink(db, tenantId, linkId));
        answer(req, res, 200, content, () => confirmPage(content, `${url.pathname}${url.search}`));
        return true;
      }
      const done = await inTenant(tenantId, (db) => useLink(db, app.config, tenantId, linkId));
      answer(req, res, 200, done, () => messagePage(done.title, done.message, { lang: done.language ?? "en" }));
      return true;
    } catch (error) {
      if (!refusal(error)) throw error;
      // The link is genuine: its page speaks its holder's language and leads back to the form it came from.
      const known = await inTenant(tenantId, (db) => linkSetting(db, tenantId, linkId));
      const setting = known ? { language: known.language, form: known.credentialId ? `/privacy/ask/${tenantId}/${known.credentialId}` : null } : browser;
      return refuseIn(req, res, error, setting);
    }
  }

  return async function handlePrivacy(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? "/", "http://laurel.internal");
    const ask = ASK.exec(url.pathname);
    const link = ask ? null : LINK.exec(url.pathname);
    if (!ask && !link) return false;
    if (req.method !== "GET" && req.method !== "POST") {
      return refuse(res, { status: 405, code: "METHOD_NOT_ALLOWED", message: "Use GET or POST" }, { html: !asksForJson(req), headers: { allow: "GET, POST" } });
    }
    // A body that says it is too large is refused before it costs anyone's rate (or a read).
    if (declaresTooLarge(req, MAX_FORM_BYTES)) {
      return refuseIn(req, res, bodyTooLarge(MAX_FORM_BYTES), { language: languageOfBrowser(req.headers["accept-language"]), form: null });
    }
    if (!limiter.allow(req.socket.remoteAddress ?? "unknown")) {
      return refuseIn(req, res, new RateLimitedError(), { language: languageOfBrowser(req.headers["accept-language"]), form: null });
    }
    if (ask) return handleAsk(req, res, url, ask[1]!, ask[2]!);
    return handleLink(req, res, url, link![1]!, link![2]!);
  };
}
