// Shared arrangements for the engagement tests: a tenant with an active template, credentials issued
// through the SDK, plain HTTP requests that do not follow redirects, and waiting for the buffer.
import { expect } from "vitest";
import { signToken, type TrackingRef } from "../../src/modules/engagement/tracking.js";
import { ActivateTemplateDocument, CreateTemplateDocument, IssueCredentialDocument } from "../../src/sdk/generated.js";
import type { TestApp } from "../helpers/app.js";
import { signUpTenant, uniqueEmail, type TestTenant } from "../helpers/factories.js";

export interface Issued {
  tenantId: string;
  credentialId: string;
  recipientId: string;
  templateNodeId: string;
  /** The credential's page on the test server. */
  pagePath: string;
  verifiableCredential: unknown;
}

export interface EngagementTenant extends TestTenant {
  templateNodeId: string;
  issue(email?: string): Promise<Issued>;
}

export async function tenantWithTemplate(app: TestApp, name = "Engagement College"): Promise<EngagementTenant> {
  const tenant = await signUpTenant(app, name);
  const created = await tenant.owner.request(CreateTemplateDocument, {
    kind: "BADGE",
    content: { name: "Event Tracking", description: "Tracks events.", credentialDescription: "Awarded to {{recipientName}}.", criteriaNarrative: "Read the logs." },
  });
  if (created.createTemplate.__typename !== "Template") throw new Error("template");
  const templateNodeId = created.createTemplate.id;
  await tenant.owner.request(ActivateTemplateDocument, { id: templateNodeId });
  return {
    ...tenant,
    templateNodeId,
    async issue(email = uniqueEmail("recipient")) {
      const res = await tenant.owner.request(IssueCredentialDocument, { input: { templateId: templateNodeId, recipient: { email, name: "Rae Recipient" } } });
      if (res.issueCredential.__typename !== "Credential") throw new Error(`issue: ${JSON.stringify(res.issueCredential)}`);
      const credentialId = res.issueCredential.publicUrl.split("/").pop()!;
      const [row] = await app.db.admin<{ recipient_id: string }[]>`select recipient_id from credentials where id = ${credentialId}`;
      return {
        tenantId: tenant.tenantId,
        credentialId,
        recipientId: row!.recipient_id,
        templateNodeId,
        pagePath: `/issuers/${tenant.tenantId}/credentials/${credentialId}`,
        verifiableCredential: res.issueCredential.verifiableCredential,
      };
    },
  };
}

export const BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";
export const PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

/** One request to the test server, redirects not followed, as a browser unless told otherwise. */
export function hit(app: TestApp, path: string, init: RequestInit & { ua?: string } = {}): Promise<Response> {
  const { ua = BROWSER, headers, ...rest } = init;
  const url = path.startsWith("http") ? path.replace(app.config.publicUrl, app.server.url) : `${app.server.url}${path}`;
  return fetch(url, { redirect: "manual", ...rest, headers: { "user-agent": ua, ...(headers as Record<string, string>) } });
}

export type EventRow = {
  tenant_id: string;
  credential_id: string | null;
  recipient_id: string | null;
  message_id: string | null;
  template_id: string | null;
  type: string;
  channel: string;
  network: string | null;
  format: string | null;
  ua_class: string;
  ip_hash: string | null;
  machine: boolean;
  occurred_at: Date;
  partition: string;
};

/** The tenant's events (those `where` keeps) as the superuser sees them, once at least `count` are written. */
export async function eventsOf(app: TestApp, tenantId: string, count = 1, where: (e: EventRow) => boolean = () => true, timeoutMs = 5_000): Promise<EventRow[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const all = await app.db.admin<EventRow[]>`
      select *, tableoid::regclass::text as partition from engagement_events where tenant_id = ${tenantId} order by occurred_at, id`;
    const rows = all.filter(where);
    if (rows.length >= count || Date.now() > deadline) {
      expect(rows.length).toBeGreaterThanOrEqual(count);
      return rows;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Gives the buffer time to flush (it writes every 50 ms), for asserting that nothing was written. */
export const settle = () => new Promise((r) => setTimeout(r, 300));

/**
 * A click URL as emailTracking().link() makes it, but signed a minute ago: clicks within seconds of
 * rendering are taken for a scanner checking the message on delivery, and a test clicks at once.
 */
export function humanClick(app: TestApp, ref: TrackingRef, target: string, purpose = "other"): string {
  const token = signToken(app.config, `click:${purpose}`, ref, target, Date.now() - 60_000);
  return `/t/c/${token}?u=${encodeURIComponent(target)}`;
}
