// The page kit every route that answers a person uses (public pages, privacy and account pages, the
// refusals of download links): everything interpolated is escaped, and a page's scripts carry a nonce
// that its Content-Security-Policy names. Here, not in src/public/, so domain routes can answer a browser.
import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";

export function escapeHtml(value: unknown): string {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** Serializes data for a <script type="application/json"> block without letting it close the tag. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/>/g, "\\u003e").replace(/&/g, "\\u0026");
}

export interface Page {
  html: string;
  csp: string;
}

/** The languages our own page texts are written in. */
export type PageLanguage = "en" | "fr";

/**
 * A page: `title` (escaped), the shared styles, and `body(nonce)`. `options.head` is markup added at the
 * end of <head> (meta tags, page styles): trusted, so its caller escapes what it interpolates.
 */
export function page(title: string, body: (nonce: string) => string, options: { lang?: PageLanguage; head?: string } = {}): Page {
  const nonce = randomBytes(16).toString("base64");
  const html = `<!doctype html>
<html lang="${options.lang ?? "en"}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
  body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f5f5f0;color:#1d1d1b}
  main{max-width:760px;margin:40px auto;background:#fff;border-radius:12px;padding:32px;box-shadow:0 1px 4px rgba(0,0,0,.08)}
  h1{margin:.2em 0;font-size:1.8rem} .issuer{color:#555} .muted{color:#666;font-size:.9rem}
  .status{display:inline-block;padding:4px 10px;border-radius:99px;font-weight:600}
  .status.valid{background:#e3f4e6;color:#1d6b2a} .status.bad{background:#fde8e8;color:#9b1c1c} .status.warn{background:#fff4d6;color:#7a5200}
  .badge{width:160px;height:160px;object-fit:contain;float:right;margin-left:24px}
  .actions{display:flex;flex-wrap:wrap;gap:8px;margin-top:24px;clear:both}
  .actions a,.actions button{font:inherit;padding:8px 14px;border-radius:8px;border:1px solid #ccc;background:#fafafa;color:#1d1d1b;text-decoration:none;font-size:.95rem;cursor:pointer}
  .actions .primary{background:#1d4ed8;border-color:#1d4ed8;color:#fff}
  .problem{background:#fde8e8;color:#9b1c1c;border-radius:8px;padding:10px 14px}
  .field{margin:14px 0} .field label{display:block;font-weight:600;margin-bottom:4px}
  .field input{font:inherit;width:100%;max-width:420px;box-sizing:border-box;padding:8px 10px;border:1px solid #bbb;border-radius:8px}
  #verify-result{margin-top:16px} #verify-result li.ok::marker{content:"✓ "} #verify-result li.fail::marker{content:"✗ "}
  textarea{width:100%;min-height:200px;font-family:ui-monospace,monospace}
</style>${options.head ?? ""}</head><body><main>${body(nonce)}</main></body></html>`;
  const csp = `default-src 'none'; img-src * data:; style-src 'unsafe-inline'; script-src 'nonce-${nonce}'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`;
  return { html, csp };
}

export function sendPage(res: ServerResponse, page: Page, status = 200, headers: Record<string, string> = {}) {
  res.writeHead(status, {
    "content-type": "text/html; charset=utf-8",
    "content-security-policy": page.csp,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    ...headers,
  });
  res.end(page.html);
}

/** A link a message page offers: the way back, or what to do next. */
export interface NextStep {
  href: string;
  label: string;
  primary?: boolean;
}

/**
 * A short page for something that did not work: what happened in a sentence, and where to go from here.
 * No detail about why beyond what the person can act on, nothing to probe with.
 */
export function messagePage(title: string, message: string, options: { lang?: PageLanguage; next?: NextStep[] } = {}): Page {
  const next = options.next?.length
    ? `<div class="actions">${options.next.map((n) => `<a href="${escapeHtml(n.href)}"${n.primary ? ' class="primary"' : ""}>${escapeHtml(n.label)}</a>`).join("")}</div>`
    : "";
  return page(title, () => `<h1>${escapeHtml(title)}</h1><p dir="auto">${escapeHtml(message)}</p>${next}`, { lang: options.lang });
}
