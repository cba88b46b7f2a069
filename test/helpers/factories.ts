// Each test makes its own tenants through the public API: no shared seed.
import { randomBytes } from "node:crypto";
import { expect } from "vitest";
import { ActivateTemplateDocument, CreateApiKeyDocument, CreateTemplateDocument, SignUpDocument, type ApiKeyScope } from "../../src/sdk/generated.js";
import type { LaurelClient } from "../../src/sdk/index.js";
import type { TestApp } from "./app.js";

export interface TestTenant {
  tenantId: string;
  userId: string;
  email: string;
  password: string;
  token: string;
  /** SDK client signed in as the tenant's owner. */
  owner: LaurelClient;
}

export function uniqueEmail(label = "user"): string {
  return `${label}-${randomBytes(4).toString("hex")}@example.test`;
}

export async function signUpTenant(app: TestApp, name = "Test University"): Promise<TestTenant> {
  const email = uniqueEmail("owner");
  const password = "correct horse battery";
  const { signUp } = await app.client().request(SignUpDocument, {
    input: { email, password, name: "Olive Owner", organizationName: name, organizationSlug: `t-${randomBytes(5).toString("hex")}` },
  });
  if (signUp.__typename !== "SessionPayload") throw new Error(`sign-up failed: ${JSON.stringify(signUp)}`);
  return {
    tenantId: signUp.tenantId!,
    userId: signUp.userId,
    email,
    password,
    token: signUp.token,
    owner: app.client(signUp.token),
  };
}

export async function createKey(app: TestApp, owner: LaurelClient, scopes: ApiKeyScope[], name = "test key") {
  const { createApiKey } = await owner.request(CreateApiKeyDocument, { input: { name, scopes } });
  expect(createApiKey.__typename).toBe("CreateApiKeyPayload");
  if (createApiKey.__typename !== "CreateApiKeyPayload") throw new Error("unreachable");
  return { id: createApiKey.apiKey.id, secret: createApiKey.secret, client: app.client(createApiKey.secret) };
}

/** A BADGE template with this name, description and criteria, activated so it can be issued; returns its global id. */
export async function activeBadge(owner: LaurelClient, content: { name: string; description: string; criteriaNarrative: string }): Promise<string> {
  const { createTemplate } = await owner.request(CreateTemplateDocument, { kind: "BADGE", content });
  if (createTemplate.__typename !== "Template") throw new Error(`template: ${JSON.stringify(createTemplate)}`);
  await owner.request(ActivateTemplateDocument, { id: createTemplate.id });
  return createTemplate.id;
}
