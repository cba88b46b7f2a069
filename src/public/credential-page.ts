// The credential's public page: what the signed credential says, its current status, a verify button
// and share links (LinkedIn add-to-profile, X, Facebook, copy link, downloads). Nothing beyond the
// credential itself is shown: no recipient email, nothing from other tenants.
import type { PublicCredential } from "../modules/credentials/public.js";
import { escapeHtml, jsonForScript, page, VERIFY_SCRIPT, type Page } from "./html.js";
import { calendarDay, formatDay, representable } from "../lib/calendar.js";
import { recipientNameOf } from "../modules/credentials/document.js";
import { PREVIEW_HEIGHT, PREVIEW_WIDTH } from "./preview-image.js";

interface Achievement {
  name?: string;
  description?: string;
  image?: { id?: string };
  criteria?: { narrative?: string; id?: string };
}

/**
 * The credential's state today, as the page and the certificate PDF say it: revoked, suspended, not
 * yet valid (validFrom in the future), expired (validUntil passed), else valid.
 */
export function statusLabel(c: Pick<PublicCredential, "status" | "validFrom" | "validUntil">, now = new Date()): { text: string; tone: "valid" | "bad" | "warn" } {
  if (c.status === "REVOKED") return { text: "Revoked", tone: "bad" };
  if (c.status === "SUSPENDED") return { text: "Suspended", tone: "warn" };
  if (c.validFrom && c.validFrom > now) return { text: "Not yet valid", tone: "warn" };
  if (c.validUntil && c.validUntil <= now) return { text: "Expired", tone: "warn" };
  return { text: "Valid", tone: "valid" };
}

/**
 * LinkedIn's add-to-profile URL. Issue and expiry months are calendar months in the issuer's
 * `timeZone` (IANA), as the credential's page shows them: 2026-01-01T09:30+10:00 in Australia/Sydney
 * is January 2026, not December 2025.
 */
export function linkedInUrl(args: { name: string; organization: string; issued: Date | null; expires: Date | null; certUrl: string; certId: string; timeZone: string }): string {
  const url = new URL("https://www.linkedin.com/profile/add");
  url.searchParams.set("startTask", "CERTIFICATION_NAME");
  url.searchParams.set("name", args.name);
  url.searchParams.set("organizationName", args.organization);
  const issued = calendarDay(args.issued, args.timeZone);
  if (issued) {
    url.searchParams.set("issueYear", String(issued.year));
    url.searchParams.set("issueMonth", String(issued.month));
  }
  const expires = calendarDay(args.expires, args.timeZone);
  if (expires) {
    url.searchParams.set("expirationYear", String(expires.year));
    url.searchParams.set("expirationMonth", String(expires.month));
  }
  url.searchParams.set("certUrl", args.certUrl);
  url.searchParams.set("certId", args.certId);
  return url.toString();
}

/**
 * Text that may be written in any direction, set inside a sentence of ours: isolated (HTML <bdi>, UAX #9
 * FSI…PDI) so that a right-to-left name, or one ending in digits or brackets, cannot reorder the words
 * around it ("Awarded to محمد (2)." stays in that order).
 */
export function isolated(text: string): string {
  return `<bdi>${escapeHtml(text)}</bdi>`;
}

/** `text` escaped, with every occurrence of `name` in it isolated (a description that names the holder). */
function withIsolated(text: string, name: string | null): string {
  return name ? text.split(name).map(escapeHtml).join(isolated(name)) : escapeHtml(text);
}

/** A day as the page writes it: "1 January 2026" in the issuer's zone, machine-readable in <time>. */
function day(d: Date | null, timeZone: string): string {
  const text = formatDay(d, timeZone);
  return text ? `<time datetime="${calendarDay(d, timeZone)!.iso}">${escapeHtml(text)}</time>` : "an unknown date";
}

const documentDate = (value: unknown) => (typeof value === "string" ? representable(new Date(value)) : null);

/** What the page and its share links say, read from the signed credential only. */
function describe(credential: PublicCredential) {
  const vc = credential.document as Record<string, any>;
  const achievement = (vc.credentialSubject?.achievement ?? {}) as Achievement;
  const issuer = (vc.issuer ?? {}) as { name?: string; url?: string };
  const name = String(vc.name ?? achievement.name ?? "Credential");
  return { vc, achievement, issuer, name, issued: documentDate(vc.validFrom), expires: documentDate(vc.validUntil), certUrl: String(vc.id) };
}

export const SHARE_NETWORKS = ["linkedin-add", "linkedin", "x", "facebook", "email", "copy"] as const;
export type ShareNetwork = (typeof SHARE_NETWORKS)[number];
/** The networks that publish a credential to others: never offered for a child's (public.ts holderIsChild). */
export const SOCIAL_NETWORKS: readonly ShareNetwork[] = ["linkedin-add", "linkedin", "x", "facebook"];

/**
 * Where each share link leads, built here from the credential alone: the share endpoint redirects only
 * to these, so it can never be used as an open redirect. "copy" leads back to the credential itself.
 */
export function shareTargets(credential: PublicCredential, credentialId: string): Record<ShareNetwork, string> {
  const { issuer, name, issued, expires, certUrl } = describe(credential);
  const share = encodeURIComponent(certUrl);
  const line = `I earned "${name}" from ${issuer.name ?? "my issuer"}`;
  return {
    "linkedin-add": linkedInUrl({ name, organization: issuer.name ?? "", issued, expires, certUrl, certId: credentialId, timeZone: credential.timeZone }),
    linkedin: `https://www.linkedin.com/sharing/share-offsite/?url=${share}`,
    x: `https://twitter.com/intent/tweet?url=${share}&text=${encodeURIComponent(line)}`,
    facebook: `https://www.facebook.com/sharer/sharer.php?u=${share}`,
    email: `mailto:?subject=${encodeURIComponent(name)}&body=${encodeURIComponent(`${line}: ${certUrl}`)}`,
    copy: certUrl,
  };
}

/** The self-service page for a credential's holder, beside the credential's own URL (privacy-routes.ts). */
export function privacyAskUrl(certUrl: string): string {
  return certUrl.replace(/\/issuers\/([0-9a-f-]{36})\/credentials\/([0-9a-f-]{36})$/, "/privacy/ask/$1/$2");
}

/** Styles of the credential and verify pages: the badge first and large, one column on a phone. */
const PAGE_STYLE = `<style>
  main{overflow-wrap:anywhere}
  .hero{display:flex;gap:28px;align-items:center;margin-bottom:8px}
  .hero .badge{flex:none;width:200px;height:200px;float:none;margin:0;object-fit:contain}
  .hero .titles{min-width:0}
  body.dragging main{outline:3px dashed #1d4ed8;outline-offset:-8px}
  @media (max-width:600px){
    main{margin:0;border-radius:0;padding:20px 16px;box-shadow:none}
    .hero{flex-direction:column;align-items:center;text-align:center;gap:12px}
    .hero .badge{width:min(240px,70vw);height:min(240px,70vw)}
    h1{font-size:1.5rem}
    .actions a,.actions button{flex:1 1 auto;text-align:center}
  }
</style>`;

/** At most `max` characters (code points), cut at a space when one is near, with "…". */
function clip(text: string, max: number): string {
  const chars = [...text.replace(/\s+/g, " ").trim()];
  if (chars.length <= max) return chars.join("");
  const cut = chars.slice(0, max - 1).join("");
  const space = cut.lastIndexOf(" ");
  return `${space > max * 0.6 ? cut.slice(0, space) : cut}…`;
}

/**
 * The Open Graph (https://ogp.me) and Twitter card tags of a credential's page: its title, a line on
 * whom it recognises and who issued it (its status first when it is not valid), and the 1200×630
 * preview image (preview.png beside the page). Only what the page itself shows. Absolute URLs, from
 * `pageUrl`: scrapers do not resolve relative ones.
 */
export function shareTags(credential: PublicCredential, pageUrl: string): string {
  const { vc, achievement, issuer, name } = describe(credential);
  const status = statusLabel(credential);
  const holder = recipientNameOf(vc);
  const about = [holder ? `Awarded to ${holder}` : "Awarded", issuer.name ? ` by ${issuer.name}` : ""].join("");
  const detail = String(vc.description ?? achievement.description ?? "");
  const description = clip(`${status.tone === "valid" ? "" : `${status.text}. `}${about}.${detail ? ` ${detail}` : ""}`, 200);
  const image = `${pageUrl}/preview.png`;
  const alt = clip(`${name}${holder ? `, awarded to ${holder}` : ""}${issuer.name ? ` by ${issuer.name}` : ""}`, 400);
  const meta = (attr: "property" | "name", key: string, value: string) => `<meta ${attr}="${key}" content="${escapeHtml(value)}">`;
  return [
    `<link rel="canonical" href="${escapeHtml(pageUrl)}">`,
    meta("property", "og:type", "website"),
    meta("property", "og:title", clip(name, 200)),
    meta("property", "og:description", description),
    meta("property", "og:url", pageUrl),
    ...(issuer.name ? [meta("property", "og:site_name", clip(issuer.name, 100))] : []),
    meta("property", "og:image", image),
    meta("property", "og:image:type", "image/png"),
    meta("property", "og:image:width", String(PREVIEW_WIDTH)),
    meta("property", "og:image:height", String(PREVIEW_HEIGHT)),
    meta("property", "og:image:alt", alt),
    meta("name", "twitter:card", "summary_large_image"),
    meta("name", "twitter:title", clip(name, 70)),
    meta("name", "twitter:description", description),
    meta("name", "twitter:image", image),
    meta("name", "twitter:image:alt", alt),
  ].join("\n");
}

/**
 * The credential's page, at `options.pageUrl` (absolute; default the credential's id). It shows the
 * badge (badge.png, the credential baked in) first and large. For a child's credential (`child`), no
 * LinkedIn, X or Facebook buttons and no Open Graph or Twitter tags: a child's credential is never
 * offered to social networks; verifying, downloading and the holder's rights stay.
 */
export function credentialPage(credential: PublicCredential, credentialId: string, options: { child?: boolean; pageUrl?: string } = {}): Page {
  const { vc, achievement, issuer, name, issued, expires, certUrl } = describe(credential);
  const status = statusLabel(credential);
  // The holder's name as the signed credential states it (also in the credential JSON on this page).
  const holder = recipientNameOf(vc);
  // Share links go through our own endpoint (relative to this page), which counts them and redirects.
  const via = (network: ShareNetwork) => `${escapeHtml(credentialId)}/share/${network}`;
  const head = `${PAGE_STYLE}${options.child ? "" : shareTags(credential, options.pageUrl ?? certUrl)}`;
  return page(`${name} · ${issuer.name ?? "Credential"}`, (nonce) => `
  <div class="hero">
  <img class="badge" data-testid="badge" src="${escapeHtml(credentialId)}/badge.png?view=page" width="200" height="200" alt="${escapeHtml(achievement.name ?? name)}">
  <div class="titles">
  <p class="issuer" data-testid="issuer">Issued by <strong>${isolated(issuer.name ?? "")}</strong>${issuer.url ? ` · <a href="${escapeHtml(issuer.url)}" rel="noopener">${escapeHtml(issuer.url)}</a>` : ""}</p>
  <h1 data-testid="name" dir="auto">${escapeHtml(name)}</h1>
  ${holder ? `<p class="holder">Awarded to <strong data-testid="holder">${isolated(holder)}</strong></p>` : ""}
  </div>
  </div>
  <p><span class="status ${status.tone}" data-testid="status">${status.text}</span></p>
  <p dir="auto" data-testid="description">${withIsolated(String(vc.description ?? achievement.description ?? ""), holder)}</p>
  ${achievement.criteria?.narrative ? `<p class="muted"><strong>Criteria:</strong> ${escapeHtml(achievement.criteria.narrative)}</p>` : ""}
  <p class="muted" data-testid="dates">${status.text === "Not yet valid" ? "Valid from" : "Issued"} ${day(issued, credential.timeZone)}${expires ? ` · Expires ${day(expires, credential.timeZone)}` : " · Does not expire"}</p>
  <div class="actions">
    <button class="primary" id="verify" type="button">Verify</button>
    ${options.child ? "" : `<a id="share-linkedin" href="${via("linkedin-add")}" target="_blank" rel="noopener">Add to LinkedIn</a>
    <a id="share-linkedin-post" href="${via("linkedin")}" target="_blank" rel="noopener">Share on LinkedIn</a>
    <a id="share-x" href="${via("x")}" target="_blank" rel="noopener">Share on X</a>
    <a id="share-facebook" href="${via("facebook")}" target="_blank" rel="noopener">Share on Facebook</a>`}
    <a id="share-email" href="${via("email")}">Share by email</a>
    <button id="copy-link" type="button">Copy link</button>
    <a id="download-json" href="?format=json" download="credential-${escapeHtml(credentialId)}.json">Download JSON</a>
    <a id="download-png" href="${escapeHtml(credentialId)}/badge.png" download="badge-${escapeHtml(credentialId)}.png">Download badge (PNG)</a>
    <a id="download-pdf" href="${escapeHtml(credentialId)}/certificate.pdf" download="certificate-${escapeHtml(credentialId)}.pdf">Download certificate (PDF)</a>
  </div>
  <div id="verify-result" data-testid="verify-result" aria-live="polite"></div>
  <p class="muted">This is an Open Badges 3.0 Verifiable Credential. Anyone can check it without trusting this site: its signature, its issuer's key and its status are public.</p>
  <p class="muted"><a id="your-data" href="${escapeHtml(privacyAskUrl(certUrl))}" rel="nofollow">Your data and your rights</a>: the holder can ask the issuer for a copy of their data, a correction or erasure.</p>
  <script type="application/json" id="credential">${jsonForScript(vc)}</script>
  <script nonce="${nonce}">
    ${VERIFY_SCRIPT}
    const credential = JSON.parse(document.getElementById("credential").textContent);
    document.getElementById("verify").addEventListener("click", () => laurelVerify(credential, document.getElementById("verify-result")));
    document.getElementById("copy-link").addEventListener("click", async (event) => {
      const button = event.currentTarget;
      fetch(${jsonForScript(`${credentialId}/share/copy`)}, { redirect: "manual", keepalive: true }).catch(() => {});
      try { await navigator.clipboard.writeText(${jsonForScript(certUrl)}); button.textContent = "Link copied"; }
      catch { window.prompt("Copy this link", ${jsonForScript(certUrl)}); }
    });
  </script>`, { head });
}

/** The claim link's landing page: claiming is a POST from its button, so mail scanners never claim. */
export function claimPage(credential: PublicCredential, token: string): Page {
  const { issuer, name } = describe(credential);
  return page(`Claim ${name}`, () => `
  <p class="issuer">Issued by <strong>${escapeHtml(issuer.name)}</strong></p>
  <h1 data-testid="name">${escapeHtml(name)}</h1>
  <form method="post"><input type="hidden" name="token" value="${escapeHtml(token)}">
  <div class="actions"><button class="primary" type="submit" id="claim">Claim your credential</button></div></form>`);
}

/**
 * The verify page: paste a credential's JSON, or choose or drop its file anywhere on the page: JSON, a
 * badge image with the credential baked in (PNG, SVG) or a certificate PDF with it attached. Files go
 * to POST /verify as they are, with their own content type.
 */
export function verifyPage(): Page {
  return page("Verify a credential", (nonce) => `
  <h1>Verify a credential</h1>
  <p>Paste an Open Badges 3.0 credential (JSON), or choose or drop its file: the JSON, a badge image (PNG or SVG) or a certificate PDF that carries it. We check its signature, issuer, status, dates and schema, using only what can be resolved without trusting anyone.</p>
  <form id="form"><textarea id="input" aria-label="Credential JSON" placeholder='{"@context": [...], ...}'></textarea>
  <p class="drop" id="drop"><label for="file">Or choose its file (JSON, PNG, SVG or PDF), or drop it anywhere on this page:</label><br><input type="file" id="file" accept=".json,.jsonld,.pdf,.png,.svg,application/json,application/ld+json,application/pdf,image/png,image/svg+xml"></p>
  <div class="actions"><button class="primary" type="submit">Verify</button></div></form>
  <div id="verify-result" data-testid="verify-result" aria-live="polite"></div>
  <script nonce="${nonce}">
    ${VERIFY_SCRIPT}
    const target = document.getElementById("verify-result");
    const input = document.getElementById("input");
    // JSON goes into the box to be read first; anything else is sent as it is.
    async function take(file) {
      if (!file) return;
      if (/json$/i.test(file.type) || /\\.json(ld)?$/i.test(file.name)) { input.value = await file.text(); return; }
      input.value = "";
      laurelVerifyFile(file, target);
    }
    document.getElementById("file").addEventListener("change", (e) => take(e.target.files[0]));
    document.addEventListener("dragover", (e) => { e.preventDefault(); document.body.classList.add("dragging"); });
    document.addEventListener("dragleave", () => document.body.classList.remove("dragging"));
    document.addEventListener("drop", (e) => { e.preventDefault(); document.body.classList.remove("dragging"); take(e.dataTransfer.files[0]); });
    document.getElementById("form").addEventListener("submit", (e) => {
      e.preventDefault();
      const file = document.getElementById("file").files[0];
      if (!input.value.trim() && file) return take(file);
      let credential;
      try { credential = JSON.parse(input.value); } catch { target.textContent = "That is not JSON."; return; }
      laurelVerify(credential, target);
    });
  </script>`, { head: PAGE_STYLE });
}
