// The pages the account emails lead to (auth/password-reset.ts, members/service.ts), for people without a
// dashboard at hand:
//   GET  /password-reset           a form for a new password; the link's lrp_ token stays in the URL's
//                                  fragment, never sent to us but by the form (a nonce'd script copies it)
//   POST /password-reset           sets it (resetPassword): a page saying so, never the session it opens
//   GET  /password-reset/ask       a form for an account's email address
//   POST /password-reset/ask       emails a link (requestPasswordReset): the same answer for any address
//   GET  /invitations/accept       a form (name, password) for an invitation's lri_ link, the same way
//   POST /invitations/accept       creates the account and joins the tenant (acceptInvitation)
// Without JavaScript the form shows a field to paste the token into. Each runs in the anonymous role's
// transaction, as the GraphQL ways in do. `accept: application/json` gets JSON ({ ok: true, ... } or
// { error: { code, message } }); bodies over 8 KB answer 413; each client is rate limited.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { App } from "../context.js";
import { withTenantTransaction, type Db } from "../db/tenant-transaction.js";
import { ExpectedError, ValidationError } from "../errors.js";
import { normaliseEmail } from "../lib/email-address.js";
import { asksForJson, refuse, sendJson, type Refusal } from "../lib/http-answers.js";
import { createRateLimiter } from "../lib/rate-limit.js";
import { readForm } from "../lib/read-body.js";
import { PasswordResetError, requestPasswordReset, resetPassword, sendPasswordResetEmail, TooManyResetRequestsError, PASSWORD_RESET_TTL_MINUTES } from "../modules/auth/password-reset.js";
import { createMailer } from "../modules/delivery/mailer.js";
import { MIN_PASSWORD_LENGTH } from "../modules/auth/passwords.js";
import { acceptInvitation, AlreadyMemberError, InvitationError } from "../modules/members/service.js";
import { escapeHtml, jsonForScript, messagePage, page, sendPage, type Page } from "./html.js";

const MAX_FORM_BYTES = 8 * 1024;
const ASK_PATH = "/password-reset/ask";
const NEW_LINK = [{ href: ASK_PATH, label: "Ask for a new link", primary: true }];

interface TokenForm {
  action: string;
  title: string;
  intro: string;
  prefix: "lrp_" | "lri_";
  button: string;
  /** The invitation's form asks for a name too. */
  withName?: boolean;
  typed?: { token: string; name: string };
  problem?: string;
}

/**
 * A form whose token comes from the link's fragment: the nonce'd script copies `location.hash` into the
 * token field, hides it and takes the token out of the address bar; without JavaScript the field shows.
 */
function tokenFormPage(f: TokenForm): Page {
  const token = f.typed?.token ?? "";
  return page(f.title, (nonce) => `
  <h1>${escapeHtml(f.title)}</h1>
  <p>${escapeHtml(f.intro)}</p>
  ${f.problem ? `<p class="problem" role="alert" id="problem">${escapeHtml(f.problem)}</p>` : ""}
  <form method="post" action="${escapeHtml(f.action)}" id="form">
    <div class="field" id="token-field"${token ? " hidden" : ""}><label for="token">The code from your email's link: everything after # (it starts with ${f.prefix})</label>
      <input id="token" name="token" required autocomplete="off" spellcheck="false" value="${escapeHtml(token)}"></div>
    ${f.withName ? `<div class="field"><label for="name">Your name</label><input id="name" name="name" required maxlength="200" autocomplete="name" dir="auto" value="${escapeHtml(f.typed?.name ?? "")}"></div>` : ""}
    <div class="field"><label for="password">New password (at least ${MIN_PASSWORD_LENGTH} characters)</label>
      <input id="password" name="password" type="password" required minlength="${MIN_PASSWORD_LENGTH}" maxlength="256" autocomplete="new-password"></div>
    <div class="field"><label for="again">The same password again</label>
      <input id="again" name="passwordAgain" type="password" required minlength="${MIN_PASSWORD_LENGTH}" maxlength="256" autocomplete="new-password"></div>
    <div class="actions"><button class="primary" type="submit" id="submit">${escapeHtml(f.button)}</button></div>
  </form>
  <script nonce="${nonce}">
    const fromLink = location.hash.slice(1);
    if (fromLink.startsWith(${jsonForScript(f.prefix)})) {
      document.getElementById("token").value = fromLink;
      document.getElementById("token-field").hidden = true;
      history.replaceState(null, "", location.pathname);
    }
    const again = document.getElementById("again");
    again.addEventListener("input", () => again.setCustomValidity(""));
    document.getElementById("form").addEventListener("submit", (event) => {
      if (again.value === document.getElementById("password").value) return;
      again.setCustomValidity("The two passwords differ");
      again.reportValidity();
      event.preventDefault();
    });
  </script>`);
}

const resetForm = (typed?: TokenForm["typed"], problem?: string) =>
  tokenFormPage({
    action: "/password-reset",
    title: "Choose a new password",
    intro: "Choose the password for your Laurel account. Setting it signs you out everywhere else.",
    prefix: "lrp_",
    button: "Set my password",
    typed,
    problem,
  });

const invitationForm = (typed?: TokenForm["typed"], problem?: string) =>
  tokenFormPage({
    action: "/invitations/accept",
    title: "Accept your invitation",
    intro: "Give your name and choose a password: this creates your Laurel account and joins the organisation that invited you.",
    prefix: "lri_",
    button: "Join",
    withName: true,
    typed,
    problem,
  });

function askForm(typed = "", problem?: string): Page {
  return page("Choose a password", () => `
  <h1>Choose a password</h1>
  <p>Forgot your password, or never had one? Give your account's email address: if an account has it, we email it a link to choose a password. The link works once, for ${PASSWORD_RESET_TTL_MINUTES} minutes.</p>
  ${problem ? `<p class="problem" role="alert" id="problem">${escapeHtml(problem)}</p>` : ""}
  <form method="post" action="${ASK_PATH}">
    <div class="field"><label for="email">Email address</label><input id="email" name="email" type="email" required maxlength="320" autocomplete="email" value="${escapeHtml(typed)}"></div>
    <div class="actions"><button class="primary" type="submit" id="submit">Email me a link</button></div>
  </form>`);
}

/** The form's two passwords: the second only as a browser sends it (a program sends one). */
function checkAgain(form: URLSearchParams): void {
  const again = form.get("passwordAgain");
  if (again !== null && again !== form.get("password")) throw ValidationError.field(["passwordAgain"], "The two passwords differ: type the same one twice");
}

/** Refusals these pages know, with what a person does next; anything else is not ours to word. */
function refusal(error: unknown): (Refusal & { next?: typeof NEW_LINK; title?: string }) | null {
  if ((error as { status?: number } | null)?.status === 413) return { status: 413, code: "PAYLOAD_TOO_LARGE", message: `At most ${MAX_FORM_BYTES} bytes` };
  if (error instanceof PasswordResetError) {
    return { status: 410, code: "LINK_UNUSABLE", title: "This password link no longer works", message: "It is invalid, already used or expired: a link works once, for an hour. Ask for a new one.", next: NEW_LINK };
  }
  if (error instanceof TooManyResetRequestsError) return { status: 429, code: "RATE_LIMITED", message: error.message };
  if (error instanceof InvitationError && error.reason === "INVALID") {
    return { status: 410, code: "LINK_UNUSABLE", title: "This invitation no longer works", message: "It is invalid, already used, revoked or expired. Ask the person who invited you to send a new one." };
  }
  if (error instanceof InvitationError && error.reason === "LOGIN_REQUIRED") {
    return {
      status: 409, code: error.reason, title: "You already have an account",
      message: "A Laurel account already has this email address: sign in with it, then accept the invitation. Forgot its password? Ask for a link to choose a new one.",
      next: [{ href: ASK_PATH, label: "Choose a new password", primary: true }],
    };
  }
  if (error instanceof AlreadyMemberError) return { status: 409, code: "ALREADY_MEMBER", title: "You are already a member", message: "Your account already belongs to this organisation: sign in as usual." };
  if (error instanceof ExpectedError) return { status: 400, code: "REFUSED", message: error.message };
  return null;
}

export function createAccountRoutes(app: App) {
  const limiter = createRateLimiter({ perSecond: 2, burst: 60 });
  const anonymous = { dbRole: app.config.roles.anonymous, tenantId: null, userId: null };
  const asNobody = <T>(work: (db: Db) => Promise<T>) => withTenantTransaction(app.database, anonymous, work);
  const inTenant = <T>(tenantId: string, work: (db: Db) => Promise<T>) =>
    withTenantTransaction(app.database, { dbRole: app.config.roles.member, tenantId, userId: null }, work);
  const session = (req: IncomingMessage) => ({ ttlHours: app.config.sessionTtlHours, userAgent: req.headers["user-agent"] ?? null });
  const noReferrer = { "referrer-policy": "no-referrer" };

  /** Success: JSON for programs, a page for people. */
  const done = (req: IncomingMessage, res: ServerResponse, status: number, json: unknown, html: () => Page) => {
    if (asksForJson(req)) sendJson(res, status, json, noReferrer);
    else sendPage(res, html(), status);
  };

  async function resetRoute(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === "GET") return sendPage(res, resetForm());
    const form = await readForm(req, MAX_FORM_BYTES);
    const typed = { token: (form.get("token") ?? "").trim(), name: "" };
    try {
      checkAgain(form);
      const result = await asNobody((db) => resetPassword(db, { token: typed.token, password: form.get("password") ?? "" }, session(req)));
      // Committed: this process stops believing the account's old sessions at once (others within AUTH_CACHE_TTL_MS).
      app.database.auth.forget((v) => v.kind === "user" && v.userId === result.userId);
      // The new session's token is the API's to hand out; here the person simply signs in again.
      done(req, res, 200, { ok: true, sessionsEnded: result.sessionsEnded }, () =>
        messagePage("Your password is set", "Your password is set: sign in with it. Every other session of your account was signed out."));
    } catch (error) {
      if (!(error instanceof ValidationError) || asksForJson(req)) throw error;
      sendPage(res, resetForm(typed, error.message), 400);
    }
  }

  async function askRoute(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === "GET") return sendPage(res, askForm());
    const form = await readForm(req, MAX_FORM_BYTES);
    const typed = form.get("email") ?? "";
    const checked = normaliseEmail(typed);
    if (!checked.ok) {
      if (asksForJson(req)) throw ValidationError.field(["email"], `Not a valid email address: ${checked.reason}`);
      return sendPage(res, askForm(typed, `Not a valid email address: ${checked.reason}`), 400);
    }
    const asked = await asNobody((db) => requestPasswordReset(db, checked.email, req.socket.remoteAddress ?? null, app.config.publicUrl));
    // Committed: the platform's email goes now, not awaited, so the answer takes as long for any address.
    if (asked.email) void sendPasswordResetEmail(createMailer(app.config.email), app.config, asked.email);
    // Whether an account has the address is never said: the same answer for any.
    done(req, res, 202, { ok: true, expiresInMinutes: asked.expiresInMinutes }, () =>
      messagePage("Check your inbox", `If a Laurel account has this address, we have emailed it a link to choose a password. It works once, for ${asked.expiresInMinutes} minutes. Nothing after a few minutes? Look in your spam folder, or ask again.`, {
        next: [{ href: ASK_PATH, label: "Ask again" }],
      }));
  }

  async function invitationRoute(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === "GET") return sendPage(res, invitationForm());
    const form = await readForm(req, MAX_FORM_BYTES);
    const typed = { token: (form.get("token") ?? "").trim(), name: form.get("name") ?? "" };
    try {
      checkAgain(form);
      const accepted = await asNobody((db) => acceptInvitation(db, { token: typed.token, name: typed.name, password: form.get("password") ?? "" }, session(req)));
      const tenant = await inTenant(accepted.tenantId, (db) => db.tenant.findUnique({ where: { id: accepted.tenantId }, select: { name: true } }));
      done(req, res, 200, { ok: true, tenantId: accepted.tenantId, role: accepted.role }, () =>
        messagePage(`Welcome to ${tenant?.name ?? "your organisation"}`, `You have joined ${tenant?.name ?? "the organisation"} as ${accepted.role}: sign in with your email address and the password you chose.`));
    } catch (error) {
      const details = error instanceof InvitationError && error.reason === "ACCOUNT_DETAILS_REQUIRED";
      if (!(error instanceof ValidationError || details) || asksForJson(req)) throw error;
      sendPage(res, invitationForm(typed, (error as Error).message), 400);
    }
  }

  return async function handleAccount(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const path = (req.url ?? "/").split(/[?#]/)[0]!;
    const route = path === "/password-reset" ? resetRoute : path === ASK_PATH ? askRoute : path === "/invitations/accept" ? invitationRoute : null;
    if (!route) return false;
    const html = !asksForJson(req);
    if (req.method !== "GET" && req.method !== "POST") {
      return refuse(res, { status: 405, code: "METHOD_NOT_ALLOWED", message: "Use GET or POST" }, { html, headers: { allow: "GET, POST", ...noReferrer } });
    }
    if (!limiter.allow(req.socket.remoteAddress ?? "unknown")) {
      return refuse(res, { status: 429, code: "RATE_LIMITED", message: "Too many requests: try again in a moment" }, { html, headers: { "retry-after": "2", ...noReferrer } });
    }
    try {
      await route(req, res);
    } catch (error) {
      const r = error instanceof ValidationError ? { status: 400, code: "BAD_REQUEST", message: error.message, details: { fieldErrors: error.fieldErrors } } : refusal(error);
      if (!r) throw error;
      // The rest of an oversized body was never read: this connection cannot carry another request.
      const headers = { ...noReferrer, ...(r.status === 413 ? { connection: "close" } : {}) };
      const back = r.status === 413 || r.status === 400 ? [{ href: path, label: "Back to the form", primary: true }] : undefined;
      refuse(res, r, { html, title: r.title, next: r.next ?? back, headers });
    }
    return true;
  };
}
