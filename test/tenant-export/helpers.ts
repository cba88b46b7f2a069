// Shared steps of the tenant-export tests: a small tenant with something in every kind of table, an
// export run to completion through the SDK, and a ZIP read back into memory.
import { createSecretKey, randomBytes, type KeyObject } from "node:crypto";
import {
  ActivateTemplateDocument,
  CreateTemplateDocument,
  CreateWebhookEndpointDocument,
  ExportTenantDocument,
  IssueCredentialDocument,
  RevokeCredentialDocument,
  SetTenantHolidaysDocument,
  TenantExportDocument,
} from "../../src/sdk/generated.js";
import type { LaurelClient } from "../../src/sdk/index.js";
import { waitFor } from "../helpers/worker.js";
import { unwrapKey, type KeyPurpose } from "../../src/modules/vault/data-keys.js";
import { TenantKeys } from "../../src/modules/vault/vault.js";

export interface IssuedCredential {
  id: string;
  verifiableCredential: Record<string, unknown> & { id: string };
}

/** A template, three credentials (one revoked), a webhook endpoint and a holiday. */
export async function seedSmallTenant(owner: LaurelClient): Promise<{ credentials: IssuedCredential[]; revoked: IssuedCredential }> {
  const { createTemplate } = await owner.request(CreateTemplateDocument, {
    kind: "BADGE",
    content: { name: `Seamanship ${randomBytes(2).toString("hex")}`, description: "Sailed far.", criteriaNarrative: "Sail." },
  });
  if (createTemplate.__typename !== "Template") throw new Error(JSON.stringify(createTemplate));
  await owner.request(ActivateTemplateDocument, { id: createTemplate.id });
  const credentials: IssuedCredential[] = [];
  for (const [i, name] of ["Ada Lovelace", "Grace Hopper", "Émilie du Châtelet"].entries()) {
    const { issueCredential } = await owner.request(IssueCredentialDocument, {
      input: { templateId: createTemplate.id, recipient: { email: `sailor${i}.${randomBytes(3).toString("hex")}@example.test`, name } },
    });
    if (issueCredential.__typename !== "Credential") throw new Error(JSON.stringify(issueCredential));
    credentials.push(issueCredential as unknown as IssuedCredential);
  }
  const { revokeCredential } = await owner.request(RevokeCredentialDocument, { id: credentials[1]!.id, input: { reason: "Issued in error" } });
  if (revokeCredential.__typename !== "Credential") throw new Error(JSON.stringify(revokeCredential));
  const revoked = revokeCredential as unknown as IssuedCredential;
  const hook = await owner.request(CreateWebhookEndpointDocument, { input: { url: "https://partner.example/hooks", eventTypes: ["credential.issued"] } });
  if (hook.createWebhookEndpoint.__typename !== "WebhookSecretPayload") throw new Error(JSON.stringify(hook));
  await owner.request(SetTenantHolidaysDocument, { input: { days: [{ date: "2026-12-25", name: "Christmas Day" }] } });
  return { credentials, revoked };
}

/** Asks for an export and waits until the worker has finished it. */
export async function exportAndWait(owner: LaurelClient, timeoutMs = 30_000) {
  const { exportTenant } = await owner.request(ExportTenantDocument, {});
  if (exportTenant.__typename !== "TenantExport") throw new Error(JSON.stringify(exportTenant));
  return waitFor(
    async () => {
      const { node } = await owner.request(TenantExportDocument, { id: exportTenant.id });
      if (node?.__typename !== "TenantExport") return null;
      if (node.state === "failed") throw new Error(`export failed: ${node.failure}`);
      return node.state === "completed" ? node : null;
    },
    "the tenant export",
    timeoutMs,
  );
}

export { unzip } from "../helpers/zip.js";

export const ndjson = (file: Buffer | undefined) =>
  (file ?? Buffer.alloc(0)).toString("utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

/** A bytea value as an export writes it ("\x..." hex text), as bytes. */
export const exportedBytes = (value: unknown) => Buffer.from(String(value).replace(/^\\x/, ""), "hex");

/**
 * The tenant's data keys as the ZIP carries them (tables/tenant_data_keys.ndjson, wrapped), unwrapped with
 * `keks`: proof that the ZIP plus the source's KEK, and nothing else, opens its sealed columns.
 */
export function keysFromExport(files: Map<string, Buffer>, tenantId: string, keks: ReadonlyMap<number, Buffer>): TenantKeys {
  const data = new Map<number, KeyObject>();
  let index: KeyObject | null = null;
  for (const row of ndjson(files.get("tables/tenant_data_keys.ndjson"))) {
    if (row.retired_at) continue;
    const key = createSecretKey(unwrapKey(keks, tenantId, { purpose: row.purpose as KeyPurpose, version: Number(row.version), wrapped: exportedBytes(row.wrapped), kek_version: Number(row.kek_version) }));
    if (row.purpose === "data") data.set(Number(row.version), key);
    else index = key;
  }
  if (!data.size || !index) throw new Error("the export carries no data or index key");
  return new TenantKeys(tenantId, Math.max(...data.keys()), data, index);
}
