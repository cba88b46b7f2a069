// The credential's public page: what the signed credential says, its current status, a verify button
// and share links (LinkedIn add-to-profile, X, Facebook, copy link, downloads). Nothing beyond the
// credential itself is shown: no recipient email, nothing from other tenants.
import type { PublicCredential } from "../modules/credentials/public.js";
import { escapeHtml, jsonForScript, page, VERIFY_SCRIPT, type Page } from "./html.js";

interface Achievement {
  name?: string;
  description?: string;
  image?: { id?: string };
  criteria?: { narrative?: string; id?: string };
}

export function statusLabel(c: PublicCredential, now = new Date()): { text: string; tone: "valid" | "bad" | "warn" } {
  if (c.status === "REVOKED") return { text: "Revoked", tone: "bad" };
  if (c.status === "SUSPENDED") return { text: "Suspended", tone: "warn" };
  if (c.validUntil && c.validUntil <= now) return { text: "Expired", tone: "warn" };
  return { text: "Valid", tone: "valid" };
}

export function linkedInUrl(args: { name: string; organization: string; issued: Date; expires: Date | null; certUrl: string; certId: string }): string {
  const url = new URL("https://www.linkedin.com/profile/add");
  url.searchParams.set("startTask", "CERTIFICATION_NAME");
  url.searchParams.set("name", args.name);
  url.searchParams.set("organizationName", args.organization);
  url.searchParams.set("issueYear", String(args.issued.getUTCFullYear()));
  url.searchParams.set("issueMonth", String(args.issued.getUTCMonth() + 1));
  if (args.expires) {
    url.searchParams.set("expirationYear", String(args.expires.getUTCFullYear()));
    url.searchParams.set("expirationMonth", String(args.expires.getUTCMonth() + 1));
  }
  url.searchParams.set("certUrl", args.certUrl);
  url.searchParams.set("certId", args.certId);
  return url.toString();
}

const day = (d: Date) => d.toISOString().slice(0, 10);

export function credentialPage(credential: PublicCredential, credentialId: string): Page {
  const vc = credential.document as Record<string, any>;
  const achievement = (vc.credentialSubject?.achievement ?? {}) as Achievement;
  const issuer = (vc.issuer ?? {}) as { name?: string; url?: string };
  const name = String(vc.name ?? achievement.name ?? "Credential");
  const issued = new Date(vc.validFrom);
  const expires = vc.validUntil ? new Date(vc.validUntil) : null;
  const certUrl = String(vc.id);
  const status = statusLabel(credential);
  const share = encodeURIComponent(certUrl);
  const text = encodeURIComponent(`I earned "${name}" from ${issuer.name ?? "my issuer"}`);
  const image = achievement.image?.id;
  return page(`${name} · ${issuer.name ?? "Credential"}`, (nonce) => `
  ${image ? `<img class="badge" src="${escapeHtml(image)}" alt="${escapeHtml(achievement.name ?? name)}">` : ""}
  <p class="issuer" data-testid="issuer">Issued by <strong>${escapeHtml(issuer.name)}</strong>${issuer.url ? ` · <a href="${escapeHtml(issuer.url)}" rel="noopener">${escapeHtml(issuer.url)}</a>` : ""}</p>
  <h1 data-testid="name">${escapeHtml(name)}</h1>
  <p><span class="status ${status.tone}" data-testid="status">${status.text}</span></p>
  <p>${escapeHtml(vc.description ?? achievement.description ?? "")}</p>
  ${achievement.criteria?.narrative ? `<p class="muted"><strong>Criteria:</strong> ${escapeHtml(achievement.criteria.narrative)}</p>` : ""}
  <p class="muted">Issued ${day(issued)}${expires ? ` · Expires ${day(expires)}` : " · Does not expire"}</p>
  <div class="actions">
    <button class="primary" id="verify" type="button">Verify</button>
    <a id="share-linkedin" href="${escapeHtml(linkedInUrl({ name, organization: issuer.name ?? "", issued, expires, certUrl, certId: credentialId }))}" target="_blank" rel="noopener">Add to LinkedIn</a>
    <a id="share-x" href="https://twitter.com/intent/tweet?url=${share}&amp;text=${text}" target="_blank" rel="noopener">Share on X</a>
    <a id="share-facebook" href="https://www.facebook.com/sharer/sharer.php?u=${share}" target="_blank" rel="noopener">Share on Facebook</a>
    <button id="copy-link" type="button">Copy link</button>
    <a id="download-json" href="?format=json" download="credential-${escapeHtml(credentialId)}.json">Download JSON</a>
    <a id="download-png" href="${escapeHtml(credentialId)}/badge.png" download="badge-${escapeHtml(credentialId)}.png">Download badge (PNG)</a>
  </div>
  <div id="verify-result" data-testid="verify-result" aria-live="polite"></div>
  <p class="muted">This is an Open Badges 3.0 Verifiable Credential. Anyone can check it without trusting this site: its signature, its issuer's key and its status are public.</p>
  <script type="application/json" id="credential">${jsonForScript(vc)}</script>
  <script nonce="${nonce}">
    ${VERIFY_SCRIPT}
    const credential = JSON.parse(document.getElementById("credential").textContent);
    document.getElementById("verify").addEventListener("click", () => laurelVerify(credential, document.getElementById("verify-result")));
    document.getElementById("copy-link").addEventListener("click", async (event) => {
      const button = event.currentTarget;
      try { await navigator.clipboard.writeText(${jsonForScript(certUrl)}); button.textContent = "Link copied"; }
      catch { window.prompt("Copy this link", ${jsonForScript(certUrl)}); }
    });
  </script>`);
}

export function verifyPage(): Page {
  return page("Verify a credential", (nonce) => `
  <h1>Verify a credential</h1>
  <p>Paste an Open Badges 3.0 credential (JSON), or choose its file. We check its signature, issuer, status, dates and schema, using only what can be resolved without trusting anyone.</p>
  <form id="form"><textarea id="input" aria-label="Credential JSON" placeholder='{"@context": [...], ...}'></textarea>
  <p><input type="file" id="file" accept=".json,application/json,application/ld+json"></p>
  <div class="actions"><button class="primary" type="submit">Verify</button></div></form>
  <div id="verify-result" data-testid="verify-result" aria-live="polite"></div>
  <script nonce="${nonce}">
    ${VERIFY_SCRIPT}
    document.getElementById("file").addEventListener("change", async (e) => { document.getElementById("input").value = await e.target.files[0].text(); });
    document.getElementById("form").addEventListener("submit", (e) => {
      e.preventDefault();
      const target = document.getElementById("verify-result");
      let credential;
      try { credential = JSON.parse(document.getElementById("input").value); } catch { target.textContent = "That is not JSON."; return; }
      laurelVerify(credential, target);
    });
  </script>`);
}
