// The issue's "done when", as a user would live it: a credential is issued, its email arrives (at the
// fake Resend, through the real SDK), the recipient opens it, follows the link, shares it on LinkedIn
// and accepts it; each shows up as an engagement event, and the tenant's partner hears about it in
// signed webhooks.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Webhook } from "standardwebhooks";
import {
  ActivateTemplateDocument,
  CreateTemplateDocument,
  CreateWebhookEndpointDocument,
  CredentialEngagementDocument,
  EngagementSummaryDocument,
  IssueCredentialDocument,
} from "../../src/sdk/generated.js";
import type { QueueWorker } from "../../src/modules/jobs/worker.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createKey, signUpTenant, type TestTenant } from "../helpers/factories.js";
import { startFakeResend, type FakeResend } from "../helpers/fake-resend.js";
import { deliveryConfig, startTestWorker, waitFor } from "../helpers/worker.js";
import { openedMessages } from "../helpers/sealed.js";

const BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";
let fake: FakeResend;
let app: TestApp;
let worker: QueueWorker;
let tenant: TestTenant;
let partner: http.Server;
const hooks: { headers: http.IncomingHttpHeaders; body: string }[] = [];

beforeAll(async () => {
  fake = await startFakeResend();
  app = await startTestApp(deliveryConfig({ resendUrl: fake.url }));
  worker = await startTestWorker(app);
  tenant = await signUpTenant(app, "Gamma Institute");
  partner = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c)).on("end", () => {
      hooks.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => partner.listen(0, "127.0.0.1", r));
});

afterAll(async () => {
  await worker?.stop();
  await app?.close();
  await fake?.close();
  partner?.closeAllConnections();
  await new Promise((r) => partner?.close(r));
});

// Links carry PUBLIC_URL; the test server listens on a free port.
const local = (url: string) => url.replace(/^https?:\/\/[^/]+/, app.server.url);
const get = (url: string, headers: Record<string, string> = {}) => fetch(local(url), { redirect: "manual", headers: { "user-agent": BROWSER, ...headers } });

describe("from issuance to engagement", () => {
  it("delivers the email, records opening, viewing, sharing and accepting, and tells the partner", async () => {
    const { createWebhookEndpoint } = await tenant.owner.request(CreateWebhookEndpointDocument, {
      input: { url: `http://127.0.0.1:${(partner.address() as AddressInfo).port}/laurel`, eventTypes: ["credential.issued", "credential.viewed", "credential.shared"] },
    });
    if (createWebhookEndpoint.__typename !== "WebhookSecretPayload") throw new Error(JSON.stringify(createWebhookEndpoint));
    const { createTemplate } = await tenant.owner.request(CreateTemplateDocument, { kind: "BADGE", content: { name: "Team Lead", description: "Led a team.", criteriaNarrative: "Lead." } });
    if (createTemplate.__typename !== "Template") throw new Error("template");
    await tenant.owner.request(ActivateTemplateDocument, { id: createTemplate.id });
    const { issueCredential } = await tenant.owner.request(IssueCredentialDocument, { input: { templateId: createTemplate.id, recipient: { email: "lin@example.test", name: "Lin" } } });
    expect(issueCredential.__typename).toBe("Credential");

    // The inbox.
    const email = await waitFor(async () => fake.sent.find((m) => m.to.includes("lin@example.test")), "the email");
    const pixel = /<img src="([^"]+\/t\/o\/[^"]+\.gif)"/.exec(email.html)![1]!;
    const view = /href="([^"]+\/t\/c\/[^"]+)"/.exec(email.html)![1]!.replace(/&amp;/g, "&");
    const claim = /href="([^"]+\/claim\?token=[^"]+)"/.exec(email.html)![1]!.replace(/&amp;/g, "&");

    // Opening the email, then (a few seconds later, as a person would) following its link.
    expect((await get(pixel)).headers.get("content-type")).toBe("image/gif");
    await new Promise((r) => setTimeout(r, 3_100));
    const clicked = await get(view);
    expect(clicked.status).toBe(302);
    const page = clicked.headers.get("location")!;
    expect(page).toMatch(/\/issuers\/[0-9a-f-]+\/credentials\/[0-9a-f-]+$/);
    expect((await get(page, { accept: "text/html" })).status).toBe(200);
    const shared = await get(`${page}/share/linkedin-add`);
    expect(shared.status).toBe(302);
    expect(shared.headers.get("location")).toMatch(/^https:\/\/www\.linkedin\.com\/profile\/add\?/);
    const token = new URL(claim).searchParams.get("token")!;
    const accepted = await fetch(local(claim).split("?")[0]!, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "user-agent": BROWSER },
      body: `token=${encodeURIComponent(token)}`,
    });
    expect(accepted.status).toBeLessThan(400);

    // The events, as the tenant's analysts see them.
    let last: Record<string, number> = {};
    const counts = await waitFor(async () => {
      const { engagementSummary } = await tenant.owner.request(EngagementSummaryDocument, { from: new Date(Date.now() - 86_400_000).toISOString(), to: new Date(Date.now() + 86_400_000).toISOString() });
      const byType = Object.fromEntries(engagementSummary.map((c) => [c.type.toLowerCase(), c.people + c.machines]));
      last = byType;
      return ["email_opened", "link_clicked", "page_viewed", "linkedin_added", "claimed"].every((t) => byType[t]) ? byType : null;
    }, "the engagement events").catch((e) => { throw new Error(`${e.message}: ${JSON.stringify(last)} ${accepted.status}`); });
    expect(counts).toMatchObject({ email_opened: 1, link_clicked: 1, page_viewed: 1, linkedin_added: 1, claimed: 1 });
    const messages = await openedMessages(app, { toEmail: "lin@example.test" });
    expect(messages).toHaveLength(1);
    expect(messages[0]!.raw.opened_at).toBeTruthy();
    expect(messages[0]!.raw.clicked_at).toBeTruthy();
    const { node } = await tenant.owner.request(CredentialEngagementDocument, { id: issueCredential.__typename === "Credential" ? issueCredential.id : "" });
    if (node?.__typename !== "Credential") throw new Error("credential");
    expect(node.engagedAt).toBeTruthy();
    expect(node.claimedAt).toBeTruthy();
    const perType = Object.fromEntries(node.engagement.map((e) => [e.type.toLowerCase(), e.people + e.machines]));
    expect(perType).toMatchObject({ email_opened: 1, link_clicked: 1, page_viewed: 1, linkedin_added: 1, claimed: 1, verified: 0 });
    // An analyst sees the counts across credentials, not what one person did.
    const analyst = await createKey(app, tenant.owner, ["analytics"]);
    await expect(analyst.client.request(CredentialEngagementDocument, { id: node.id })).rejects.toThrow(/FORBIDDEN|not allowed/i);
    const { engagementSummary } = await analyst.client.request(EngagementSummaryDocument, { from: new Date(Date.now() - 86_400_000).toISOString(), to: new Date(Date.now() + 86_400_000).toISOString() });
    expect(engagementSummary.find((c) => c.type.toLowerCase() === "claimed")!.people).toBe(1);

    // The partner's view: every event signed with its secret.
    const events = await waitFor(async () => {
      const types = hooks.map((h) => (new Webhook(createWebhookEndpoint.secret).verify(h.body, h.headers as Record<string, string>) as { type: string }).type);
      return ["credential.issued", "credential.viewed", "credential.shared"].every((t) => types.includes(t)) ? types : null;
    }, "the partner's webhooks");
    expect(events).toEqual(expect.arrayContaining(["credential.issued", "credential.viewed", "credential.shared"]));
  }, 30_000);
});
