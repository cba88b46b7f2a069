// A "verified" event means a third party checked one of our credentials, signed by its own tenant. A
// document that copies a credential's id but is signed by someone else's key (here a did:key) verifies
// as a signature, and must not count as a verification of ours, nor reach the tenant's partners.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateKeyMaterial, signCredential } from "../../src/modules/credentials/vc/proofs.js";
import { createDocumentLoader } from "../../src/modules/credentials/vc/document-loader.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { eventsOf, hit, settle, tenantWithTemplate } from "./setup.js";

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => app?.close());

describe("POST /verify", () => {
  it("counts our credential, and not a copy of its id signed by another key", async () => {
    const t = await tenantWithTemplate(app, "Verified College");
    const genuine = await t.issue();
    const verify = (doc: unknown) => hit(app, "/verify", { method: "POST", body: JSON.stringify(doc), headers: { "content-type": "application/json" } });

    const material = await generateKeyMaterial();
    const did = `did:key:${material.publicKeyMultibase}`;
    const copy = structuredClone(genuine.verifiableCredential) as Record<string, any>;
    delete copy.proof;
    copy.issuer = { ...copy.issuer, id: did };
    const forged = await signCredential(copy, { ...material, controller: did, id: `${did}#${material.publicKeyMultibase}` }, createDocumentLoader());
    const forgedReport = (await (await verify(forged)).json()) as { proof: { ok: boolean } };
    expect(forgedReport.proof.ok).toBe(true); // a valid signature, by someone else
    await settle();
    expect((await app.db.admin`select 1 from engagement_events where tenant_id = ${t.tenantId} and type = 'verified'`)).toHaveLength(0);

    expect((await verify(genuine.verifiableCredential)).status).toBe(200);
    const events = await eventsOf(app, t.tenantId, 1, (e) => e.type === "verified");
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ credential_id: genuine.credentialId, channel: "verifier" });
  });
});
