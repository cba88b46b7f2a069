// Signing and verifying Open Badges 3.0 credentials offline, checked against 1EdTech's own signed
// test vector and published JSON schema.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { Ajv2019 } from "ajv/dist/2019.js";
import addFormatsModule from "ajv-formats";
import { beforeAll, describe, expect, it } from "vitest";
import { CannotResolveError, createDocumentLoader, OB_V3, VC_V2 } from "../../src/modules/credentials/vc/document-loader.js";
import { generateKeyMaterial, signCredential, verifyProof, type SigningKey } from "../../src/modules/credentials/vc/proofs.js";
import { checkAchievementCredentialSchema } from "../../src/modules/credentials/vc/schema-check.js";

const fixtures = new URL("./fixtures/", import.meta.url);
const PUBLISHED_SCHEMA_SHA256 = "86a141ff0c1b1a6b4e08460f786a8ffe0f737d8256a86243d134a2e6450efe4d";
let vector: Record<string, any>;
let validateFixture: (c: unknown) => boolean;

const EXAMPLE_KEY = "z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi";
const EXAMPLE_ISSUER = "https://example.edu/issuers/565049";
const exampleController = {
  "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
  id: EXAMPLE_ISSUER,
  verificationMethod: [{ id: `${EXAMPLE_ISSUER}#${EXAMPLE_KEY}`, type: "Multikey", controller: EXAMPLE_ISSUER, publicKeyMultibase: EXAMPLE_KEY }],
  assertionMethod: [`${EXAMPLE_ISSUER}#${EXAMPLE_KEY}`],
};

beforeAll(async () => {
  vector = JSON.parse(await readFile(new URL("1edtech-ob3-eddsa-rdfc-2022.json", fixtures), "utf8"));
  const schemaText = await readFile(new URL("ob_v3p0_achievementcredential_schema.json", fixtures), "utf8");
  expect(createHash("sha256").update(schemaText).digest("hex")).toBe(PUBLISHED_SCHEMA_SHA256);
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  (addFormatsModule as unknown as (a: Ajv2019) => void)(ajv);
  validateFixture = ajv.compile(JSON.parse(schemaText));
});

function controllerFor(key: SigningKey) {
  return {
    "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
    id: key.controller,
    verificationMethod: [{ id: key.id, type: "Multikey", controller: key.controller, publicKeyMultibase: key.publicKeyMultibase }],
    assertionMethod: [key.id],
  };
}

function sampleCredential(issuer: string) {
  return {
    "@context": [VC_V2, OB_V3],
    id: "https://laurel.test/credentials/0b5f3a36-1111-4e1e-9a53-000000000001",
    type: ["VerifiableCredential", "OpenBadgeCredential"],
    issuer: { id: issuer, type: ["Profile"], name: "Test University", url: "https://test.example" },
    validFrom: "2026-11-29T00:00:00Z",
    name: "Data Stewardship",
    credentialSubject: {
      type: ["AchievementSubject"],
      identifier: [{ type: "IdentityObject", identityHash: "sha256$" + "ab".repeat(32), identityType: "emailAddress", hashed: true, salt: "pepper" }],
      achievement: {
        id: "https://laurel.test/achievements/1",
        type: ["Achievement"],
        name: "Data Stewardship",
        description: "Looks after data well.",
        criteria: { narrative: "Completed the course." },
      },
    },
  };
}

describe("1EdTech's signed OB 3.0 test vector", () => {
  it("verifies with bundled contexts and a fixture for its issuer's key", async () => {
    const result = await verifyProof(vector, createDocumentLoader((url) => (url === EXAMPLE_ISSUER ? exampleController : null)));
    expect(result).toEqual({ verified: true, errors: [] });
  });

  it("fails when one field is changed", async () => {
    const tampered = structuredClone(vector);
    tampered.credentialSubject.achievement.name = "Leadership Badge";
    const result = await verifyProof(tampered, createDocumentLoader((url) => (url === EXAMPLE_ISSUER ? exampleController : null)));
    expect(result.verified).toBe(false);
  });

  it("cannot be checked when its issuer's key does not resolve offline, and says so", async () => {
    const result = await verifyProof(vector, createDocumentLoader());
    expect(result.verified).toBe(false);
    expect(result.errors.join(" ")).toMatch(/cannot resolve https:\/\/example\.edu\/issuers\/565049/);
    await expect(createDocumentLoader()("https://evil.example/context.json")).rejects.toBeInstanceOf(CannotResolveError);
  });
});

describe("a credential Laurel signs", () => {
  let key: SigningKey;
  let loader: ReturnType<typeof createDocumentLoader>;
  beforeAll(async () => {
    const material = await generateKeyMaterial();
    const controller = "did:web:laurel.test:issuers:test";
    key = { ...material, controller, id: `${controller}#key-1` };
    loader = createDocumentLoader((url) => (url === controller ? controllerFor(key) : null));
  });

  it("validates against the published AchievementCredential schema, proof array and all", async () => {
    const signed = await signCredential(sampleCredential(key.controller), key, loader);
    expect(Array.isArray(signed.proof)).toBe(true);
    expect((signed.proof as any[])[0]).toMatchObject({ type: "DataIntegrityProof", cryptosuite: "eddsa-rdfc-2022", verificationMethod: key.id });
    expect(validateFixture(signed)).toBe(true);
    expect(checkAchievementCredentialSchema(signed)).toEqual({ valid: true, errors: [] });
  });

  it("verifies, and stops verifying when tampered with", async () => {
    const signed = await signCredential(sampleCredential(key.controller), key, loader);
    expect(await verifyProof(signed, loader)).toEqual({ verified: true, errors: [] });
    const tampered = structuredClone(signed) as any;
    tampered.credentialSubject.achievement.name = "Something Else";
    expect((await verifyProof(tampered, loader)).verified).toBe(false);
  });

  it("does not verify against another key of the same issuer", async () => {
    const signed = await signCredential(sampleCredential(key.controller), key, loader);
    const other = await generateKeyMaterial();
    const impostor = createDocumentLoader((url) => (url === key.controller ? controllerFor({ ...key, ...other }) : null));
    expect((await verifyProof(signed, impostor)).verified).toBe(false);
  });

  it("fails the schema without its required parts", () => {
    const { validFrom: _omit, ...noDate } = sampleCredential("did:web:x");
    void _omit;
    expect(checkAchievementCredentialSchema(noDate).valid).toBe(false);
  });
});

describe("shape-cached canonicalization", () => {
  it("produces exactly what jsonld + rdf-canonize produce, across shapes and awkward values", async () => {
    const { canonizeFast } = await import("../../src/modules/credentials/vc/fast-canonize.js");
    const jsonld = (await import("jsonld")).default;
    const rdfCanonize = await import("rdf-canonize");
    const loader = createDocumentLoader();
    const reference = async (doc: object) =>
      rdfCanonize.canonize(await jsonld.toRDF(doc, { base: null, safe: true, rdfDirection: "i18n-datatype", documentLoader: loader }), { algorithm: "RDFC-1.0" });
    const variants: object[] = [structuredClone(vector)];
    delete (variants[0] as Record<string, unknown>).proof;
    const awkward = ['quote " and backslash \\ ', "line\nbreak\ttab", "ünïcødé ✓ 中文", "https://looks.like/an/iri", "laurel-ph-0-x", ""];
    for (let i = 0; i < 12; i++) {
      const c = sampleCredential(i % 3 ? "did:web:laurel.test:issuers:a" : "did:key:z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi") as Record<string, any>;
      c.name = awkward[i % awkward.length] || "x";
      c.credentialSubject.achievement.description = awkward[(i + 1) % awkward.length] || "y";
      c.credentialSubject.achievement.achievementType = i % 2 ? "Badge" : "Certificate";
      if (i % 4 === 0) c.validUntil = "2030-01-01T00:00:00Z";
      if (i % 5 === 0) c.credentialSubject.achievement.tag = ["a", `b${i}`];
      if (i % 2 === 0) c.credentialSubject.achievement.creator = c.issuer; // one node reached twice
      c.credentialStatus = { id: `https://s.test/l#${i}`, type: "BitstringStatusListEntry", statusPurpose: "revocation", statusListIndex: String(i), statusListCredential: "https://s.test/l" };
      variants.push(c);
    }
    for (const doc of variants) {
      expect(await canonizeFast(doc, loader)).toBe(await reference(doc));
      expect(await canonizeFast(doc, loader)).toBe(await reference(doc)); // second time: from the cache
    }
  });
});

describe("the signing thread pool", () => {
  it("signs a batch on worker threads, in order, with proofs that verify", async () => {
    const { createSignPool } = await import("../../src/modules/credentials/vc/sign-pool.js");
    const material = await generateKeyMaterial();
    const controller = "did:web:laurel.test:issuers:pool";
    const key = { ...material, controller, id: `${controller}#key-1` };
    const loader = createDocumentLoader((url) => (url === controller ? controllerFor(key) : null));
    const pool = createSignPool(2);
    try {
      const batch = Array.from({ length: 12 }, (_, i) => ({ ...sampleCredential(controller), id: `https://laurel.test/credentials/pool-${i}` }));
      const signed = await pool.signMany(batch, key);
      expect(signed.map((s) => s.id)).toEqual(batch.map((b) => b.id));
      expect(pool.threaded).toBe(true);
      for (const s of signed) expect(await verifyProof(s, loader)).toEqual({ verified: true, errors: [] });
    } finally {
      await pool.close();
    }
  }, 30_000);
});
