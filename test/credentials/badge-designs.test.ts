// Generated badge designs: what a template without an uploaded image shows. The design itself (shapes,
// colours, names in any script, the issuer's logo), then badge.png / badge.svg through the real server
// with the credential baked in.
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActivateTemplateDocument, CreateTemplateDocument, IssueCredentialDocument, UpdateIssuerProfileDocument, UploadImageDocument } from "../../src/sdk/generated.js";
import { BADGE_SHAPES, badgeDesignPng, badgeDesignSvg, badgeIcon, badgeStyle, type BadgeDesignInput } from "../../src/modules/credentials/badge-design.js";
import { bakePng, unbakePng, unbakeSvg } from "../../src/modules/credentials/baking.js";
import { svgToPng } from "../../src/lib/raster.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { activeBadge, signUpTenant, type TestTenant } from "../helpers/factories.js";

const base = { tenantId: "7d1c9a52-0000-4000-8000-000000000001", templateId: "7d1c9a52-0000-4000-8000-0000000000aa" };

/** Pixels (RGBA) of a PNG. */
const pixels = (png: Buffer) => PNG.sync.read(png);

/** How many near-white pixels (the name is drawn in white) lie in the badge's middle band. */
function whiteInMiddle(png: Buffer): number {
  const image = pixels(png);
  let count = 0;
  for (let y = Math.floor(image.height * 0.3); y < image.height * 0.75; y++) {
    for (let x = Math.floor(image.width * 0.15); x < image.width * 0.85; x++) {
      const i = (y * image.width + x) * 4;
      if (image.data[i]! > 230 && image.data[i + 1]! > 230 && image.data[i + 2]! > 230 && image.data[i + 3]! > 230) count++;
    }
  }
  return count;
}

/** The name's group: svgText's <g fill="#ffffff">, its paths (one per line). */
const nameGroup = (svg: string) => /<g fill="#ffffff" aria-label="[^"]*">(.*?)<\/g>/.exec(svg)?.[1] ?? "";

describe("the generated design", () => {
  it("is the same for the same input and differs by template and tenant", () => {
    const input: BadgeDesignInput = { ...base, name: "Data Analysis", issuerName: "Bakery College" };
    expect(badgeDesignSvg(input)).toBe(badgeDesignSvg({ ...input }));
    expect(badgeDesignPng(input).equals(badgeDesignPng({ ...input }))).toBe(true);
    const styles = Array.from({ length: 40 }, (_, i) => badgeStyle(base.tenantId, `template-${i}`));
    expect(new Set(styles.map((s) => s.shape))).toEqual(new Set(BADGE_SHAPES));
    expect(badgeStyle("another tenant", base.templateId).field).not.toBe(badgeStyle(base.tenantId, base.templateId).field);
  });

  it.each([
    ["Latin", "Advanced Data Analysis"],
    ["Cyrillic", "Сертифицированный специалист"],
    ["Greek", "Πιστοποιητικό Αριστείας"],
    ["Chinese", "高级数据分析认证"],
    ["Arabic", "شهادة إتمام دورة البرمجة"],
    ["Hebrew", "תעודת הצטיינות"],
    ["Devanagari", "कंप्यूटर विज्ञान में उत्कृष्टता"],
  ])("draws a %s name in every shape, 512 pixels square and small", (_, name) => {
    for (const shape of BADGE_SHAPES) {
      const png = badgeDesignPng({ ...base, name, issuerName: "Issuer", shape });
      const image = pixels(png);
      expect([image.width, image.height]).toEqual([512, 512]);
      expect(png.length).toBeLessThan(150_000);
      expect(whiteInMiddle(png)).toBeGreaterThan(400);
    }
  });

  it("draws no white without a name: the white pixels counted above are the name", () => {
    for (const shape of BADGE_SHAPES) expect(whiteInMiddle(badgeDesignPng({ ...base, name: " \n", shape }))).toBe(0);
  });

  it("fits a 200-character name in three lines and keeps it whole in the title", () => {
    const name = "Maximiliana Alexandrovna ".repeat(8).slice(0, 200).trim();
    const svg = badgeDesignSvg({ ...base, name, shape: "shield" });
    expect(nameGroup(svg).match(/<path /g)!.length).toBeLessThanOrEqual(3);
    expect(svg).toContain(`<title>${name}</title>`);
    expect(svg.length).toBeLessThan(200_000);
  });

  it("drops characters no face can draw instead of drawing boxes, and escapes the title", () => {
    const clean = badgeDesignSvg({ ...base, name: "Ana <Lima>", shape: "circle" });
    const dirty = badgeDesignSvg({ ...base, name: "Ana \uE000<Lima>\u0007", shape: "circle" });
    expect(nameGroup(dirty)).toBe(nameGroup(clean));
    expect(clean).toContain("<title>Ana &#60;Lima&#62;</title>");
  });

  it("embeds an icon only after redrawing it: nothing of the upload (a baked credential) survives", () => {
    const upload = bakePng(badgeDesignPng({ ...base, name: "Logo", shape: "hexagon" }, 300), '{"secret":"inside"}');
    const icon = badgeIcon(upload, "image/png")!;
    expect(pixels(icon).width).toBe(192);
    expect(unbakePng(icon)).toBeNull();
    const withIcon = badgeDesignSvg({ ...base, name: "With logo", icon });
    expect(withIcon).toContain(`href="data:image/png;base64,${icon.toString("base64")}"`);
    expect(badgeDesignPng({ ...base, name: "With logo", icon }).equals(badgeDesignPng({ ...base, name: "With logo" }))).toBe(false);
  });

  it("refuses icons it cannot use safely", () => {
    const huge = Buffer.from(badgeDesignPng({ ...base, name: "x" }, 16));
    huge.writeUInt32BE(50_000, 16); // IHDR width: decoded it would take gigabytes
    expect(badgeIcon(huge, "image/png")).toBeNull();
    expect(badgeIcon(Buffer.from("GIF89a"), "image/png")).toBeNull();
    expect(badgeIcon(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><image href="/etc/hostname"/></svg>'), "image/svg+xml")).toBeNull();
    expect(badgeIcon(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1000"/>'), "image/svg+xml")).toBeNull(); // 192×192,000 pixels
    expect(pixels(badgeIcon(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10" fill="red"/></svg>'), "image/svg+xml")!).width).toBe(192);
  });
});

describe("badge.png and badge.svg without an uploaded image", () => {
  let app: TestApp;
  let a: TestTenant;
  let b: TestTenant;

  beforeAll(async () => {
    app = await startTestApp();
    [a, b] = await Promise.all([signUpTenant(app, "Design College"), signUpTenant(app, "Other College")]);
  });
  afterAll(async () => app.close());

  const local = (url: string) => url.replace(app.config.publicUrl, app.server.url);
  const get = async (url: string) => Buffer.from(await (await fetch(local(url))).arrayBuffer());

  async function upload(tenant: TestTenant, bytes: Buffer, type: string) {
    const file = new File([new Uint8Array(bytes)], type === "image/png" ? "logo.png" : "logo.svg", { type });
    const { uploadImage } = (await app.client(tenant.token).upload(UploadImageDocument, { file: null }, { file })) as any;
    return uploadImage.url as string;
  }

  async function issue(tenant: TestTenant, name: string, imageUrl?: string) {
    let templateId: string;
    if (imageUrl) {
      const { createTemplate } = await tenant.owner.request(CreateTemplateDocument, { kind: "BADGE", content: { name, description: "Own image.", criteriaNarrative: "Do it.", imageUrl } });
      if (createTemplate.__typename !== "Template") throw new Error(JSON.stringify(createTemplate));
      await tenant.owner.request(ActivateTemplateDocument, { id: createTemplate.id });
      templateId = createTemplate.id;
    } else templateId = await activeBadge(tenant.owner, { name, description: "Generated design.", criteriaNarrative: "Do it." });
    const { issueCredential } = await tenant.owner.request(IssueCredentialDocument, { input: { templateId, recipient: { email: "designer@example.test" } } });
    if (issueCredential.__typename !== "Credential") throw new Error(JSON.stringify(issueCredential));
    return issueCredential;
  }

  /** What the credential's generated badge must show, read from the credential itself. */
  function expectedInput(tenant: TestTenant, vc: Record<string, any>): BadgeDesignInput {
    const templateId = /\/achievements\/([0-9a-f-]{36})\/v1$/.exec(vc.credentialSubject.achievement.id)![1]!;
    return { name: vc.credentialSubject.achievement.name, issuerName: vc.issuer.name, tenantId: tenant.tenantId, templateId };
  }

  it("serve the generated design with the credential baked in, as PNG and as SVG", async () => {
    const credential = await issue(a, "Stained Glass Mastery");
    const png = await get(`${credential.publicUrl}/badge.png`);
    const vc = JSON.parse(unbakePng(png)!);
    expect(vc.id).toBe(credential.publicUrl);
    expect(vc.proof).toBeDefined();
    const design = badgeDesignPng(expectedInput(a, vc));
    expect(pixels(png).data.equals(pixels(design).data)).toBe(true);

    const svg = (await get(`${credential.publicUrl}/badge.svg`)).toString("utf8");
    expect(JSON.parse(unbakeSvg(svg)!)).toEqual(vc);
    expect(svg).toContain("<title>Stained Glass Mastery</title>");
    // The baked SVG draws exactly the design: the credential element is not drawn.
    expect(pixels(svgToPng(svg, { width: 512 })).data.equals(pixels(design).data)).toBe(true);
  });

  it("give the OB 2.0 BadgeClass the same design, as a PNG data URI", async () => {
    const credential = await issue(a, "Hosted Design");
    const vc = JSON.parse(unbakePng(await get(`${credential.publicUrl}/badge.png`))!);
    const badgeClass = await (await fetch(local(`${vc.credentialSubject.achievement.id}/ob2`))).json();
    const image = Buffer.from(/^data:image\/png;base64,(.+)$/.exec(badgeClass.image)![1]!, "base64");
    expect(pixels(image).data.equals(pixels(badgeDesignPng(expectedInput(a, vc), 256)).data)).toBe(true);
  });

  it("draw names in several scripts", async () => {
    for (const name of ["شهادة التميز في التصميم", "设计卓越证书", "डिज़ाइन उत्कृष्टता", "Отличие в дизайне"]) {
      const credential = await issue(a, name);
      const png = await get(`${credential.publicUrl}/badge.png`);
      expect(JSON.parse(unbakePng(png)!).credentialSubject.achievement.name).toBe(name);
      expect(whiteInMiddle(png)).toBeGreaterThan(400);
    }
  });

  it("show the issuer's own uploaded logo, but never another tenant's", async () => {
    const setLogo = async (imageUrl: string) => {
      const { updateIssuerProfile } = await a.owner.request(UpdateIssuerProfileDocument, { input: { name: "Design College", imageUrl } });
      expect(updateIssuerProfile.__typename).toBe("IssuerProfile");
    };
    const logo = badgeDesignPng({ ...base, name: "Logo", shape: "circle" }, 128);

    await setLogo(await upload(b, logo, "image/png")); // another tenant's image: its URL is public, its bytes are not ours to use
    const foreign = await issue(a, "Logo Badge");
    const foreignPng = await get(`${foreign.publicUrl}/badge.png`);
    const foreignVc = JSON.parse(unbakePng(foreignPng)!);
    expect(pixels(foreignPng).data.equals(pixels(badgeDesignPng(expectedInput(a, foreignVc))).data)).toBe(true);

    await setLogo(await upload(a, logo, "image/png"));
    const own = await issue(a, "Logo Badge");
    const ownSvg = (await get(`${own.publicUrl}/badge.svg`)).toString("utf8");
    const icon = badgeIcon(logo, "image/png")!;
    expect(ownSvg).toContain(`data:image/png;base64,${icon.toString("base64")}`);
    const ownPng = await get(`${own.publicUrl}/badge.png`);
    expect(pixels(ownPng).data.equals(pixels(badgeDesignPng({ ...expectedInput(a, JSON.parse(unbakePng(ownPng)!)), icon })).data)).toBe(true);
  });

  it("rasterise an uploaded SVG for badge.png, fall back to the design when it reaches outside, and wrap a PNG for badge.svg", async () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100"><rect width="100" height="100" fill="#0a0"/></svg>';
    const drawn = await issue(a, "Own SVG", await upload(a, Buffer.from(svg), "image/svg+xml"));
    const png = await get(`${drawn.publicUrl}/badge.png`);
    expect(JSON.parse(unbakePng(png)!).id).toBe(drawn.publicUrl);
    expect(pixels(png).data.equals(pixels(svgToPng(svg, { width: 512 })).data)).toBe(true);

    const reaching = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><image href="/etc/hostname" width="10" height="10"/></svg>';
    const refused = await issue(b, "Reaching SVG", await upload(b, Buffer.from(reaching), "image/svg+xml")); // b has no logo
    const fallback = await get(`${refused.publicUrl}/badge.png`);
    const vc = JSON.parse(unbakePng(fallback)!);
    expect(pixels(fallback).data.equals(pixels(badgeDesignPng(expectedInput(b, vc))).data)).toBe(true);

    const own = badgeDesignPng({ ...base, name: "Own PNG", shape: "rosette" }, 200);
    const wrapped = await issue(a, "Own PNG", await upload(a, own, "image/png"));
    const wrappedSvg = (await get(`${wrapped.publicUrl}/badge.svg`)).toString("utf8");
    expect(JSON.parse(unbakeSvg(wrappedSvg)!).id).toBe(wrapped.publicUrl);
    expect(wrappedSvg).toContain(`data:image/png;base64,${own.toString("base64")}`);
  });
});
