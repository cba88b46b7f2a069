// Images and baked badges: upload a PNG or SVG, issue from a template that uses it, download the
// badge with the credential baked in, and verify the image alone.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActivateTemplateDocument, CreateTemplateDocument, IssueCredentialDocument, UploadImageDocument } from "../../src/sdk/generated.js";
import { bakePng, bakeSvg, defaultBadgePng, unbakePng, unbakeSvg } from "../../src/modules/credentials/baking.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, type TestTenant } from "../helpers/factories.js";

let app: TestApp;
let a: TestTenant;
let b: TestTenant;

/** Uploads through the SDK's multipart helper, as a partner would. */
async function upload(token: string, bytes: Buffer, name: string, type: string) {
  const file = new File([new Uint8Array(bytes)], name, { type });
  return (await app.client(token).upload(UploadImageDocument, { file: null }, { file })).uploadImage as any;
}

async function issueWithImage(imageUrl: string | null) {
  const created = await a.owner.request(CreateTemplateDocument, {
    kind: "BADGE",
    content: { name: "Baked Badge", description: "Has an image.", criteriaNarrative: "Bake it.", imageUrl },
  });
  if (created.createTemplate.__typename !== "Template") throw new Error(JSON.stringify(created));
  await a.owner.request(ActivateTemplateDocument, { id: created.createTemplate.id });
  const issued = await a.owner.request(IssueCredentialDocument, { input: { templateId: created.createTemplate.id, recipient: { email: "baker@example.test" } } });
  if (issued.issueCredential.__typename !== "Credential") throw new Error("issue");
  return issued.issueCredential;
}

const local = (url: string) => url.replace(app.config.publicUrl, app.server.url);

async function verifyImage(bytes: Buffer, type: string) {
  const res = await fetch(`${app.server.url}/verify`, { method: "POST", headers: { "content-type": type }, body: new Uint8Array(bytes) });
  return { status: res.status, json: await res.json() };
}

beforeAll(async () => {
  app = await startTestApp();
  [a, b] = await Promise.all([signUpTenant(app, "Bakery College"), signUpTenant(app, "Other Bakery")]);
});
afterAll(async () => app.close());

describe("baking", () => {
  it("round-trips a credential through PNG iTXt and SVG, replacing an older one", () => {
    const png = bakePng(bakePng(defaultBadgePng("x"), '{"old":true}'), '{"id":"new ✓"}');
    expect(unbakePng(png)).toBe('{"id":"new ✓"}');
    const svg = bakeSvg('<svg xmlns="http://www.w3.org/2000/svg"><circle r="3"/></svg>', '{"text":"a ]]> b"}');
    expect(svg).toContain('xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"');
    expect(unbakeSvg(svg)).toBe('{"text":"a ]]> b"}');
  });
});

describe("images and baked badges", () => {
  it("accept PNG and SVG by content, and refuse anything else or anything too large", async () => {
    const png = await upload(a.token, defaultBadgePng("logo"), "logo.png", "image/png");
    expect(png).toMatchObject({ __typename: "Image", contentType: "image/png" });
    const served = await fetch(local(png.url));
    expect(served.headers.get("content-type")).toBe("image/png");
    expect(Buffer.from(await served.arrayBuffer()).equals(defaultBadgePng("logo"))).toBe(true);
    const svg = await upload(a.token, Buffer.from('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>'), "a.svg", "image/svg+xml");
    expect(svg).toMatchObject({ contentType: "image/svg+xml" });
    expect((await fetch(local(svg.url))).headers.get("content-security-policy")).toContain("default-src 'none'");
    const fake = await upload(a.token, Buffer.from("GIF89a not really"), "x.png", "image/png");
    expect(fake).toMatchObject({ __typename: "ValidationError", message: "Upload a PNG or an SVG image" });
    const big = await upload(a.token, Buffer.concat([defaultBadgePng("x"), Buffer.alloc(1024 * 1024 + 1)]), "big.png", "image/png");
    expect(big.__typename).toBe("ValidationError");
  });

  it("bake the credential into the template's own PNG, and the PNG alone verifies", async () => {
    const image = await upload(a.token, defaultBadgePng("mine"), "mine.png", "image/png");
    const credential = await issueWithImage(image.url);
    const badge = await fetch(local(`${credential.publicUrl}/badge.png`));
    expect(badge.headers.get("content-type")).toBe("image/png");
    const bytes = Buffer.from(await badge.arrayBuffer());
    expect(JSON.parse(unbakePng(bytes)!).id).toBe(credential.publicUrl);
    const report = await verifyImage(bytes, "image/png");
    expect(report).toMatchObject({ status: 200, json: { verified: true } });
  });

  it("bake into an SVG, default images included, and refuse images without a credential", async () => {
    const credential = await issueWithImage(null);
    const svg = Buffer.from(await (await fetch(local(`${credential.publicUrl}/badge.svg`))).arrayBuffer());
    expect((await verifyImage(svg, "image/svg+xml")).json.verified).toBe(true);
    const png = Buffer.from(await (await fetch(local(`${credential.publicUrl}/badge.png`))).arrayBuffer());
    expect((await verifyImage(png, "image/png")).json.verified).toBe(true);
    expect(await verifyImage(defaultBadgePng("plain"), "image/png")).toMatchObject({ status: 422 });
    expect((await verifyImage(Buffer.from("not a png"), "image/png")).status).toBe(400);
  });

  it("serve an image only under its own tenant", async () => {
    const image = await upload(a.token, defaultBadgePng("private"), "p.png", "image/png");
    const other = image.url.replace(a.tenantId, b.tenantId);
    expect((await fetch(local(other))).status).toBe(404);
  });
});

describe("Open Badges 2.0 hosted verification", () => {
  it("publishes a linked Assertion, BadgeClass and Issuer, with the recipient hashed, and marks revocation", async () => {
    const credential = await issueWithImage(null);
    const get = async (url: string) => {
      const res = await fetch(local(url));
      expect(res.status, url).toBe(200);
      return res.json();
    };
    const assertion = await get(`${credential.publicUrl}/ob2`);
    expect(assertion).toMatchObject({ "@context": "https://w3id.org/openbadges/v2", type: "Assertion", verification: { type: "hosted" } });
    expect(assertion.id).toBe(`${credential.publicUrl}/ob2`);
    expect(assertion.recipient).toMatchObject({ type: "email", hashed: true });
    expect(assertion.recipient.identity).toMatch(/^sha256\$[0-9a-f]{64}$/);
    expect(JSON.stringify(assertion)).not.toContain("baker@example.test");
    const badgeClass = await get(assertion.badge);
    expect(badgeClass).toMatchObject({ type: "BadgeClass", name: "Baked Badge", criteria: { narrative: "Bake it." } });
    expect(badgeClass.image).toMatch(/^data:image\/png;base64,/);
    const issuer = await get(badgeClass.issuer);
    expect(issuer).toMatchObject({ type: "Issuer", name: "Bakery College" });
    const achievement = await get((credential.verifiableCredential as any).credentialSubject.achievement.id);
    expect(achievement).toMatchObject({ type: ["Achievement"], name: "Baked Badge" });

    const { RevokeCredentialDocument } = await import("../../src/sdk/generated.js");
    await a.owner.request(RevokeCredentialDocument, { id: credential.id, input: { reason: "test" } });
    expect(await get(`${credential.publicUrl}/ob2`)).toMatchObject({ revoked: true });
  });
});
