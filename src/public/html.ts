// The public pages' kit: the shared page helpers (src/lib/html.ts) and the pages' client scripts.
export { escapeHtml, jsonForScript, messagePage, page, sendPage, type NextStep, type Page, type PageLanguage } from "../lib/html.js";

/**
 * Client script shared by the pages: posts a credential to /verify and lists the report.
 * laurelVerify(credential, target) sends a parsed credential as JSON; laurelVerifyFile(file, target)
 * sends a chosen or dropped file as it is (a PDF certificate, a baked PNG/SVG badge, or JSON).
 */
export const VERIFY_SCRIPT = `
function laurelVerify(credential, target) {
  return laurelPost(JSON.stringify(credential), "application/json", target);
}
function laurelVerifyFile(file, target) {
  const name = file.name.toLowerCase();
  const type = file.type || (name.endsWith(".pdf") ? "application/pdf" : name.endsWith(".png") ? "image/png" : name.endsWith(".svg") ? "image/svg+xml" : "application/json");
  return laurelPost(file, type, target);
}
async function laurelPost(body, type, target) {
  target.textContent = "Checking…";
  try {
    const res = await fetch("/verify", { method: "POST", headers: { "content-type": type }, body });
    const report = await res.json();
    if (!res.ok) throw new Error((report.error && report.error.message) || res.statusText);
    const rows = ["issuer", "proof", "status", "validity", "schema"].map((k) => {
      const li = document.createElement("li");
      li.className = report[k].ok ? "ok" : "fail";
      li.textContent = k[0].toUpperCase() + k.slice(1) + ": " + report[k].message;
      return li;
    });
    const head = document.createElement("strong");
    head.textContent = report.verified ? "Verified" : "Not verified";
    head.dataset.verified = String(report.verified);
    const list = document.createElement("ul");
    list.append(...rows);
    target.replaceChildren(head, list);
  } catch (e) {
    target.textContent = "Could not verify: " + e.message;
  }
}`;
