// A credential's page as a link preview and on a phone: Open Graph and Twitter card tags with absolute
// URLs, a 1200×630 preview image that loads, the badge shown large, and a page that fits a 390 px wide
// phone without scrolling sideways. A child's page carries no share tags and has no preview image.
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreateRecipientDocument, IssueCredentialDocument, UpdateRecipientPrivacyDocument } from "../../src/sdk/generated.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { launchBrowser, shot } from "../helpers/browser.js";
import { eventsOf, hit, settle, tenantWithTemplate, type EngagementTenant } from "../engagement/setup.js";

let app: TestApp;
let t: EngagementTenant;
let browser: Browser;

beforeAll(async () => {
  app = await startTestApp();
  t = await tenantWithTemplate(app, "Harbour & <Bay> College");
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await app?.close();
});

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const pngSize = (png: Buffer) => ({ width: png.readUInt32BE(16), height: png.readUInt32BE(20) });

/** Issues a credential to `name` and returns its page path. */
async function issueTo(name: string, email = `${Math.random().toString(36).slice(2)}@example.test`) {
  const { createRecipient } = await t.owner.request(CreateRecipientDocument, { input: { email, name } });
  if (createRecipient.__typename !== "Recipient") throw new Error(JSON.stringify(createRecipient));
  const { issueCredential } = await t.owner.request(IssueCredentialDocument, { input: { templateId: t.templateNodeId, recipientId: createRecipient.id } });
  if (issueCredential.__typename !== "Credential") throw new Error(JSON.stringify(issueCredential));
  const credentialId = issueCredential.publicUrl.split("/").pop()!;
  return { recipientId: createRecipient.id, credentialId, path: `/issuers/${t.tenantId}/credentials/${credentialId}` };
}

/** The page's share tags, read by the browser from <head>: property or name → content. */
async function tagsOf(tab: Page): Promise<Record<string, string>> {
  return tab.evaluate(() =>
    Object.fromEntries(
      [...document.head.querySelectorAll("meta[property], meta[name]")].map((m) => [m.getAttribute("property") ?? m.getAttribute("name"), m.getAttribute("content")]),
    ),
  );
}

describe("the credential page's share preview", () => {
  it("carries Open Graph and Twitter card tags with absolute URLs, the name exactly as written", async () => {
    const name = `Rae "Quotes" <b>Bold</b> & Co`;
    const { path } = await issueTo(name);
    const tab = await browser.newPage();
    await tab.goto(`${app.server.url}${path}`);
    const tags = await tagsOf(tab);
    await tab.close();
    const pageUrl = `${app.config.publicUrl}${path}`;
    expect(tags).toMatchObject({
      "og:type": "website",
      "og:title": "Event Tracking",
      "og:url": pageUrl,
      "og:image": `${pageUrl}/preview.png`,
      "og:image:type": "image/png",
      "og:image:width": "1200",
      "og:image:height": "630",
      "twitter:card": "summary_large_image",
      "twitter:title": "Event Tracking",
      "twitter:image": `${pageUrl}/preview.png`,
    });
    expect(tags["og:description"]).toBe(`Awarded to ${name} by Harbour & <Bay> College. Awarded to ${name}.`);
    expect(tags["twitter:description"]).toBe(tags["og:description"]);
    expect(tags["og:image:alt"]).toBe(`Event Tracking, awarded to ${name} by Harbour & <Bay> College`);
    for (const key of ["og:url", "og:image", "twitter:image"]) expect(new URL(tags[key]!).protocol, key).toMatch(/^https?:$/);
  });

  it("has an og:image that loads: a 1200×630 PNG", async () => {
    const { path } = await issueTo("Ngozi Okafor");
    const html = await (await hit(app, path, { headers: { accept: "text/html" } })).text();
    const image = /<meta property="og:image" content="([^"]+)">/.exec(html)![1]!;
    const res = await hit(app, image.replace(/&amp;/g, "&"));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/png");
    const png = Buffer.from(await res.arrayBuffer());
    expect(png.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    expect(pngSize(png)).toEqual({ width: 1200, height: 630 });
    expect(png.length).toBeGreaterThan(10_000); // a picture, not an empty canvas
  });

  it("draws the badge and the text in the preview (pixels, read back in the browser)", async () => {
    const { path } = await issueTo("Александр Пушкин");
    const tab = await browser.newPage();
    await tab.goto(`${app.server.url}${path}/preview.png`);
    // Pixels unlike the white card: in the badge's square (left) and in the text column (right).
    const inked = await tab.evaluate(() => {
      const img = document.querySelector("img")!;
      const canvas = document.createElement("canvas");
      canvas.width = img.naturalWidth;
      canvas.height = img.naturalHeight;
      const g = canvas.getContext("2d")!;
      g.drawImage(img, 0, 0);
      const count = (x: number, y: number, w: number, h: number) => {
        const d = g.getImageData(x, y, w, h).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i]! < 200 || d[i + 1]! < 200 || d[i + 2]! < 200) n++;
        return n;
      };
      return { badge: count(70, 115, 400, 400), text: count(530, 60, 600, 510), gutter: count(480, 60, 40, 510) };
    });
    await shot(tab, "share-preview");
    await tab.close();
    expect(inked.badge).toBeGreaterThan(5_000);
    expect(inked.text).toBeGreaterThan(2_000);
    expect(inked.gutter).toBe(0);
  });

  it("is not made for a child's credential, whose page has no share tags", async () => {
    const { recipientId, path } = await issueTo("Mia Small");
    const year = new Date().getUTCFullYear() - 8;
    const res = await t.owner.request(UpdateRecipientPrivacyDocument, { id: recipientId, input: { isChild: true, birthDate: `${year}-06-15` } });
    expect(JSON.stringify(res)).not.toMatch(/Error/);
    expect((await hit(app, `${path}/preview.png`)).status).toBe(404);
    const html = await (await hit(app, path, { headers: { accept: "text/html" } })).text();
    expect(html).not.toMatch(/og:|twitter:/);
    expect(html).toContain('data-testid="badge"'); // the page itself still shows the badge
  });

  it("counts the page's badge image as neither a download nor anything but the page view", async () => {
    const { credentialId, path } = await issueTo("Ines Viewer");
    const tab = await browser.newPage();
    await tab.goto(`${app.server.url}${path}`);
    await tab.waitForFunction(() => (document.querySelector("img.badge") as HTMLImageElement | null)?.naturalWidth);
    await tab.close();
    await eventsOf(app, t.tenantId, 1, (e) => e.credential_id === credentialId && e.type === "page_viewed");
    await settle();
    const all = await eventsOf(app, t.tenantId, 0, (e) => e.credential_id === credentialId);
    expect(all.map((e) => e.type)).toEqual(["page_viewed"]);
  });
});

describe("the credential page on a phone and on a desktop", () => {
  for (const [label, viewport] of [["phone", { width: 390, height: 844 }], ["desktop", { width: 1280, height: 900 }]] as const) {
    it(`shows the badge large and does not scroll sideways (${label}, ${viewport.width}×${viewport.height})`, async () => {
      const { path } = await issueTo("Maximiliana Alexandra Konstantinopoulou-Wojciechowska von Hohenzollern");
      const tab = await browser.newPage({ viewport, isMobile: label === "phone", hasTouch: label === "phone", deviceScaleFactor: label === "phone" ? 3 : 1 });
      await tab.goto(`${app.server.url}${path}`);
      await tab.waitForFunction(() => (document.querySelector("img.badge") as HTMLImageElement | null)?.complete);
      const facts = await tab.evaluate(() => {
        const img = document.querySelector("img.badge") as HTMLImageElement;
        const box = img.getBoundingClientRect();
        return {
          natural: img.naturalWidth,
          box: { left: box.left, right: box.right, top: box.top, width: box.width },
          scrollWidth: document.documentElement.scrollWidth,
          clientWidth: document.documentElement.clientWidth,
          widest: Math.max(...[...document.querySelectorAll("main *")].map((e) => e.getBoundingClientRect().right)),
        };
      });
      await shot(tab, `credential-page-${label}`);
      await tab.close();
      expect(facts.natural, "the badge image loaded").toBeGreaterThan(0);
      expect(facts.box.width).toBeGreaterThanOrEqual(180);
      expect(facts.box.left).toBeGreaterThanOrEqual(0);
      expect(facts.box.right).toBeLessThanOrEqual(viewport.width);
      expect(facts.box.top, "the badge is on the first screen").toBeLessThan(viewport.height / 2);
      expect(facts.scrollWidth).toBeLessThanOrEqual(facts.clientWidth);
      expect(facts.widest).toBeLessThanOrEqual(viewport.width);
    });
  }
});
