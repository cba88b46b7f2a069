// The public pages' kit: the shared page helpers (src/lib/html.ts) and the pages' client scripts.
export { escapeHtml, jsonForScript, messagePage, page, sendPage, type NextStep, type Page, type PageLanguage } from "../lib/html.js";

/** Client script shared by the pages: posts a credential to /verify and lists the report. */
export const VERIFY_SCRIPT = `
async function laurelVerify(credential, target) {
  target.textContent = "Checking…";
  try {
    const res = await fetch("/verify", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(credential) });
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
