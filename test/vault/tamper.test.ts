// A sealed value binds its place (table, column, tenant, row): one copied from tenant A's row into
// tenant B's (as a database superuser could) must not open as A's data, and must not take B's whole
// page down with it. QA found the list answered null with INTERNAL_SERVER_ERROR; now that field alone
// is null with the typed code SEALED_VALUE_UNREADABLE, and every other row is served.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreateRecipientDocument } from "../../src/sdk/generated.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, uniqueEmail } from "../helpers/factories.js";

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app?.close();
});

describe("a sealed value moved to another row", () => {
  it("opens for nobody: that field answers SEALED_VALUE_UNREADABLE, the other rows are served, and A's address never shows", async () => {
    const a = await signUpTenant(app, "Tenant A");
    const b = await signUpTenant(app, "Tenant B");
    const secret = uniqueEmail("a-secret");
    const made = async (t: typeof a, email: string, name: string) => {
      const { createRecipient } = await t.owner.request(CreateRecipientDocument, { input: { email, name } });
      if (createRecipient.__typename !== "Recipient") throw new Error(JSON.stringify(createRecipient));
      return Buffer.from(createRecipient.id, "base64").toString().split(":").at(-1)!;
    };
    const aId = await made(a, secret, "Alice Secret");
    const bVictim = await made(b, uniqueEmail("b-victim"), "Bob Victim");
    const bHealthy = uniqueEmail("b-healthy");
    await made(b, bHealthy, "Bea Healthy");
    await app.db.admin`update recipients b set email_sealed = a.email_sealed, name_sealed = a.name_sealed
                         from recipients a where a.id = ${aId} and b.id = ${bVictim}`;

    const res = await app.post(
      { query: "{ tenant { recipients(first: 10) { edges { node { email name locale } } } } }" },
      { authorization: `Bearer ${b.token}` },
    );
    const text = JSON.stringify(res.json);
    expect(text).not.toContain(secret);
    expect(text).not.toContain("Alice Secret");
    expect(res.json.errors.map((e: { extensions: { code: string } }) => e.extensions.code)).toEqual(["SEALED_VALUE_UNREADABLE", "SEALED_VALUE_UNREADABLE"]);
    const nodes = res.json.data.tenant.recipients.edges.map((e: { node: unknown }) => e.node);
    expect(nodes).toHaveLength(2);
    expect(nodes).toContainEqual({ email: bHealthy, name: "Bea Healthy", locale: "en" });
    expect(nodes).toContainEqual({ email: null, name: null, locale: "en" });
  });
});
