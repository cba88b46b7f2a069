// Images and baked badges: upload a PNG or SVG, issue from a template that uses it, download the
// badge with the credential baked in, and verify the image alone.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActivateTemplateDocument, CreateTemplateDocument, IssueCredentialDocument, UploadImageDocument } from "../../src/sdk/generated.js";
import { DOMParser } from "@xmldom/xmldom";
import { bakePng, bakeSvg, unbakePng, unbakeSvg } from "../../src/modules/credentials/baking.js";
import { badgeDesignPng } from "../../src/modules/credentials/badge-design.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, type TestTenant } from "../helpers/factories.js";

let app: TestApp;

/** A PNG to upload: a generated badge, different for each seed. */
const samplePng = (seed: string) => badgeDesignPng({ name: seed, tenantId: seed, templateId: seed }, 128);
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
    const png = bakePng(bakePng(samplePng("x"), '{"old":true}'), '{"id":"new ✓"}');
    expect(unbakePng(png)).toBe('{"id":"new ✓"}');
    const svg = bakeSvg('<svg xmlns="http://www.w3.org/2000/svg"><circle r="3"/></svg>', '{"text":"a ]]> b"}');
    expect(svg).toContain('xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"');
    expect(unbakeSvg(svg)).toBe('{"text":"a ]]> b"}');
  });
});

const OB_NS = "https://purl.imsglobal.org/ob/v3p0";
const SVG_NS = "http://www.w3.org/2000/svg";

/** The root's element children as (namespace, local name), read back by an XML parser. */
function rootChildren(svg: string) {
  const root = new DOMParser().parseFromString(svg, "application/xml").documentElement!;
  return Array.from(root.childNodes).filter((n) => n.nodeType === 1).map((n) => `${(n as any).namespaceURI} ${(n as any).localName}`);
}

describe("SVG baking through an XML parser (OB 3.0 §5.3.2)", () => {
  const credential = '{"id":"urn:x","note":"a ]]> b < c & d"}';
  const awkward: Record<string, string> = {
    "a leading comment containing <svg": `<!-- made from <svg width="1"> by hand --><svg xmlns="${SVG_NS}"><circle r="3"/></svg>`,
    "an XML declaration and DOCTYPE": `<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n<svg xmlns="${SVG_NS}" version="1.1"><circle r="3"/></svg>`,
    "CDATA": `<svg xmlns="${SVG_NS}"><style><![CDATA[ circle > rect { fill: red } ]]></style><circle r="3"/></svg>`,
    "a processing instruction": `<?xml-stylesheet href="a.css" type="text/css"?><svg xmlns="${SVG_NS}"><?render fast?><circle r="3"/></svg>`,
    "the svg namespace under a prefix": `<svg:svg xmlns:svg="${SVG_NS}"><svg:circle r="3"/></svg:svg>`,
    "attributes containing >": `<svg xmlns="${SVG_NS}" data-rule="a > b" aria-label='x>y'><circle r="3" data-x="&lt;svg>"/></svg>`,
    "a byte order mark": `\uFEFF<svg xmlns="${SVG_NS}"><circle r="3"/></svg>`,
  };
  for (const [what, svg] of Object.entries(awkward)) {
    it(`bakes an SVG with ${what} as the root's first child, and reads it back`, () => {
      const baked = bakeSvg(svg, credential);
      const children = rootChildren(baked);
      expect(children[0]).toBe(`${OB_NS} credential`);
      expect(children.slice(1)).toEqual(rootChildren(svg));
      expect(unbakeSvg(baked)).toBe(credential);
    });
  }

  it("leaves a comment that mentions <svg> untouched and puts nothing inside it", () => {
    const baked = bakeSvg(awkward["a leading comment containing <svg"]!, credential);
    expect(baked.startsWith('<!-- made from <svg width="1"> by hand --><svg')).toBe(true);
    expect(baked.match(/openbadges:credential>/g)).toHaveLength(2);
  });

  it("replaces an already baked credential instead of adding a second", () => {
    const once = bakeSvg(awkward["CDATA"]!, '{"old":true}');
    const twice = bakeSvg(once, credential);
    expect(rootChildren(twice).filter((c) => c === `${OB_NS} credential`)).toHaveLength(1);
    expect(unbakeSvg(twice)).toBe(credential);
    expect(twice).not.toContain('"old"');
  });

  it("keeps a credential whose JSON holds ]]> and < exact, as JSON", () => {
    const json = JSON.stringify({ name: "]]>]]>", html: "<script>&amp;</script>", tail: "]]" });
    const baked = bakeSvg(awkward["CDATA"]!, json);
    expect(JSON.parse(unbakeSvg(baked)!)).toEqual(JSON.parse(json));
  });

  it("declares the OB 3.0 namespace even where the root already uses the openbadges prefix for OB 2.0", () => {
    const svg = `<svg xmlns="${SVG_NS}" xmlns:openbadges="http://openbadges.org"><openbadges:assertion verify="https://x.test/a"/></svg>`;
    const baked = bakeSvg(svg, credential);
    expect(rootChildren(baked)).toEqual([`${OB_NS} credential`, "http://openbadges.org assertion"]);
    expect(unbakeSvg(baked)).toBe(credential);
  });

  it("reads a VC-JWT from the verify attribute and finds nothing in an unbaked SVG", () => {
    expect(unbakeSvg(`<svg xmlns="${SVG_NS}" xmlns:openbadges="${OB_NS}"><openbadges:credential verify="a.b.c"/></svg>`)).toBe("a.b.c");
    expect(unbakeSvg(awkward["a leading comment containing <svg"]!)).toBeNull();
  });

  const refused: Record<string, [string, RegExp]> = {
    "an external entity (XXE)": [`<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><svg xmlns="${SVG_NS}"><text>&xxe;</text></svg>`, /declares entities/],
    "internal entities (an entity bomb)": [`<!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]><svg xmlns="${SVG_NS}"><text>&b;</text></svg>`, /declares entities/],
    "an unreferenced parameter entity": [`<!DOCTYPE svg [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]><svg xmlns="${SVG_NS}"/>`, /declares entities/],
    "a DTD that is not the W3C's": [`<!DOCTYPE svg SYSTEM "file:///etc/passwd"><svg xmlns="${SVG_NS}"/>`, /external DTD/],
    "markup that is not well-formed": [`<svg xmlns="${SVG_NS}"><g></svg>`, /not well-formed/],
    "a root that is not svg": [`<html xmlns="http://www.w3.org/1999/xhtml"><svg xmlns="${SVG_NS}"/></html>`, /root element is not <svg>/],
    "a non-UTF-8 encoding": [`<?xml version="1.0" encoding="ISO-8859-1"?><svg xmlns="${SVG_NS}"/>`, /save it as UTF-8/],
  };
  for (const [what, [svg, message]] of Object.entries(refused)) {
    it(`refuses an SVG with ${what}, baking or reading`, () => {
      expect(() => bakeSvg(svg, credential)).toThrow(message);
      expect(() => unbakeSvg(svg)).toThrow(message);
    });
  }
});

describe("images and baked badges", () => {
  it("accept PNG and SVG by content, and refuse anything else or anything too large", async () => {
    const png = await upload(a.token, samplePng("logo"), "logo.png", "image/png");
    expect(png).toMatchObject({ __typename: "Image", contentType: "image/png" });
    const served = await fetch(local(png.url));
    expect(served.headers.get("content-type")).toBe("image/png");
    expect(Buffer.from(await served.arrayBuffer()).equals(samplePng("logo"))).toBe(true);
    const svg = await upload(a.token, Buffer.from('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>'), "a.svg", "image/svg+xml");
    expect(svg).toMatchObject({ contentType: "image/svg+xml" });
    expect((await fetch(local(svg.url))).headers.get("content-security-policy")).toContain("default-src 'none'");
    const fake = await upload(a.token, Buffer.from("GIF89a not really"), "x.png", "image/png");
    expect(fake).toMatchObject({ __typename: "ValidationError", message: "Upload a PNG or an SVG image" });
    const big = await upload(a.token, Buffer.concat([samplePng("x"), Buffer.alloc(1024 * 1024 + 1)]), "big.png", "image/png");
    expect(big.__typename).toBe("ValidationError");
  });

  it("bake the credential into the template's own PNG, and the PNG alone verifies", async () => {
    const image = await upload(a.token, samplePng("mine"), "mine.png", "image/png");
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
    expect(await verifyImage(samplePng("plain"), "image/png")).toMatchObject({ status: 422 });
    expect((await verifyImage(Buffer.from("not a png"), "image/png")).status).toBe(400);
  });

  it("refuse an uploaded SVG with entities, and bake and verify one whose comment mentions <svg", async () => {
    const xxe = `<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><svg xmlns="${SVG_NS}"><text>&xxe;</text></svg>`;
    const refusedUpload = await upload(a.token, Buffer.from(xxe), "xxe.svg", "image/svg+xml");
    expect(refusedUpload).toMatchObject({ __typename: "ValidationError", fieldErrors: [{ path: ["file"] }] });
    expect(refusedUpload.message).toMatch(/declares entities/);
    const commented = `<!-- exported from <svg> tool --><svg xmlns="${SVG_NS}" width="64" height="64"><circle cx="32" cy="32" r="30"/></svg>`;
    const image = await upload(a.token, Buffer.from(commented), "c.svg", "image/svg+xml");
    const credential = await issueWithImage(image.url);
    const svg = Buffer.from(await (await fetch(local(`${credential.publicUrl}/badge.svg`))).arrayBuffer()).toString("utf8");
    expect(svg.startsWith("<!-- exported from <svg> tool --><svg")).toBe(true);
    expect(rootChildren(svg)).toEqual([`${OB_NS} credential`, `${SVG_NS} circle`]);
    expect((await verifyImage(Buffer.from(svg), "image/svg+xml")).json.verified).toBe(true);
    const report = await verifyImage(Buffer.from(xxe), "image/svg+xml");
    expect(report.status).toBe(400);
    expect(report.json.error).toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/declares entities/) });
  });

  it("bake the default badge when an SVG stored before uploads were parsed is not XML", async () => {
    const broken = Buffer.from(`<svg xmlns="${SVG_NS}"><g></svg>`);
    const [row] = await app.db.admin<{ id: string }[]>`
      insert into images (tenant_id, content_type, bytes, sha256) values (${a.tenantId}, 'image/svg+xml', ${broken}, ${"0".repeat(64)}) returning id`;
    const credential = await issueWithImage(`${app.config.publicUrl}/images/${a.tenantId}/${row!.id}`);
    const response = await fetch(local(`${credential.publicUrl}/badge.svg`));
    expect(response.status).toBe(200);
    const svg = await response.text();
    expect(rootChildren(svg)[0]).toBe(`${OB_NS} credential`);
    expect(JSON.parse(unbakeSvg(svg)!).id).toBe(credential.publicUrl);
  });

  it("serve an image only under its own tenant", async () => {
    const image = await upload(a.token, samplePng("private"), "p.png", "image/png");
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
