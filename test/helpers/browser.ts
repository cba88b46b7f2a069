// Headless Chromium for the page tests (Debian's chromium through playwright-core, which never downloads
// a browser; CHROMIUM_PATH overrides /usr/bin/chromium). With LAUREL_SCREENSHOTS=<dir>, `shot` saves each
// page it is given there as a PNG, for a person to look at; otherwise it does nothing.
import { mkdirSync } from "node:fs";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

export async function shot(tab: Page, name: string): Promise<void> {
  const dir = process.env.LAUREL_SCREENSHOTS;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  await tab.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}

/** The words a person reads on the page (no markup, no scripts). */
export const visibleText = (tab: Page) => tab.evaluate(() => document.body.innerText);
