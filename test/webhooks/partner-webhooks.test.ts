// Partner webhooks end to end: a tenant registers an endpoint, events are delivered by the real worker,
// signed per Standard Webhooks, retried with backoff and logged; an endpoint that keeps failing is
// disabled; internal addresses are refused; one tenant never sees another's endpoints or deliveries.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Webhook } from "standardwebhooks";
import {
  ActivateTemplateDocument,
  CreateTemplateDocument,
  CreateWebhookEndpointDocument,
  DeleteWebhookEndpointDocument,
  IssueCredentialDocument,
  NodeDocument,
  RevokeCredentialDocument,
  TestWebhookEndpointDocument,
  UpdateWebhookEndpointDocument,
  WebhookDeliveriesDocument,
  WebhookEndpointsDocument,
} from "../../src/sdk/generated.js";
import type { LaurelClient } from "../../src/sdk/index.js";
import type { QueueWorker } from "../../src/modules/jobs/worker.js";
import { BlockedDestinationError, postJson } from "../../src/modules/webhooks/outbound.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, type TestTenant } from "../helpers/factories.js";
import { deliveryConfig, startTestWorker, waitFor } from "../helpers/worker.js";

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

let receiver: http.Server;
let receiverUrl: string;
const received: Received[] = [];
/** Status to answer per path, consumed in order; 200 once exhausted. */
const script = new Map<string, number[]>();

let app: TestApp;
let worker: QueueWorker;
let a: TestTenant;
let b: TestTenant;
let templateId: string;

async function createEndpoint(client: LaurelClient, path: string, eventTypes: string[]) {
  const { createWebhookEndpoint } = await client.request(CreateWebhookEndpointDocument, { input: { url: `${receiverUrl}${path}`, eventTypes } });
  if (createWebhookEndpoint.__typename !== "WebhookSecretPayload") throw new Error(JSON.stringify(createWebhookEndpoint));
  return createWebhookEndpoint;
}

async function issue(email: string) {
  const { issueCredential } = await a.owner.request(IssueCredentialDocument, { input: { templateId, recipient: { email } } });
  if (issueCredential.__typename !== "Credential") throw new Error(JSON.stringify(issueCredential));
  return issueCredential;
}

async function deliveries(client: LaurelClient, endpointId: string) {
  const { node } = await client.request(WebhookDeliveriesDocument, { endpointId, first: 50 });
  return node && node.__typename === "WebhookEndpoint" ? node : null;
}

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const path = req.url ?? "/";
      received.push({ path, headers: req.headers, body });
      const status = script.get(path)?.shift() ?? 200;
      res.writeHead(status, { "content-type": "text/plain" }).end(status === 200 ? "thanks" : "nope");
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  const config = deliveryConfig();
  app = await startTestApp({ ...config, webhooks: { ...config.webhooks!, disableAfterFailures: 2 } });
  worker = await startTestWorker(app);
  a = await signUpTenant(app, "Alpha Academy");
  b = await signUpTenant(app, "Beta College");
  const { createTemplate } = await a.owner.request(CreateTemplateDocument, { kind: "BADGE", content: { name: "Webhook Badge", description: "d", criteriaNarrative: "c" } });
  if (createTemplate.__typename !== "Template") throw new Error("template");
  templateId = createTemplate.id;
  await a.owner.request(ActivateTemplateDocument, { id: templateId });
});

afterAll(async () => {
  await worker?.stop();
  await app?.close();
  receiver?.closeAllConnections();
  await new Promise((r) => receiver?.close(r));
});

describe("partner webhooks", () => {
  it("delivers credential.issued signed per Standard Webhooks", async () => {
    const { secret, endpoint } = await createEndpoint(a.owner, "/issued", ["credential.issued", "credential.revoked"]);
    expect(secret).toMatch(/^whsec_/);
    const credential = await issue("partner@example.test");
    const hit = await waitFor(async () => received.find((r) => r.path === "/issued"), "the webhook");
    const event = new Webhook(secret).verify(hit.body, hit.headers as Record<string, string>) as { type: string; data: { credentialId: string } };
    expect(event.type).toBe("credential.issued");
    expect(Buffer.from(credential.id, "base64").toString()).toContain(event.data.credentialId);
    // A forged body fails the receiver's check.
    expect(() => new Webhook(secret).verify(hit.body.replace("issued", "revoked"), hit.headers as Record<string, string>)).toThrow();
    const { revokeCredential } = await a.owner.request(RevokeCredentialDocument, { id: credential.id, input: { reason: "Issued in error" } });
    expect(revokeCredential.__typename).toBe("Credential");
    await waitFor(async () => received.filter((r) => r.path === "/issued").length === 2, "the revocation webhook");
    const endpointView = await waitFor(async () => {
      const view = await deliveries(a.owner, endpoint.id);
      return view?.deliveries.edges.every((e) => e.node.status === "succeeded") ? view : null;
    }, "deliveries marked succeeded");
    expect(endpointView.deliveries.edges.map((e) => e.node.eventType).sort()).toEqual(["credential.issued", "credential.revoked"]);
  });

  it("retries a failing delivery with backoff until it succeeds, and logs every attempt", async () => {
    script.set("/flaky", [500, 503]);
    const { endpoint } = await createEndpoint(a.owner, "/flaky", ["credential.issued"]);
    await issue("flaky-partner@example.test");
    const delivery = await waitFor(async () => {
      const view = await deliveries(a.owner, endpoint.id);
      const d = view?.deliveries.edges[0]?.node;
      return d?.status === "succeeded" ? d : null;
    }, "the delivery to succeed on its third attempt");
    expect(delivery.attempts).toBe(3);
    expect(delivery.attemptLog.map((l) => l.statusCode)).toEqual([500, 503, 200]);
    expect(delivery.attemptLog[0]!.error).toBe("HTTP 500");
    expect(delivery.attemptLog[2]!.responseExcerpt).toBe("thanks");
    const ids = new Set(received.filter((r) => r.path === "/flaky").map((r) => r.headers["webhook-id"]));
    expect(ids.size).toBe(1); // the same message id on every retry: receivers can deduplicate
  });

  it("gives up after the retry schedule, and disables an endpoint that keeps failing", async () => {
    script.set("/down", Array(20).fill(500));
    const { endpoint } = await createEndpoint(a.owner, "/down", ["credential.issued"]);
    await issue("down-1@example.test");
    await issue("down-2@example.test");
    const view = await waitFor(async () => {
      const v = await deliveries(a.owner, endpoint.id);
      return v && !v.enabled ? v : null;
    }, "the endpoint disabled", 20_000);
    expect(view.disabledReason).toMatch(/failed every retry/);
    expect(view.deliveries.edges.map((e) => e.node.status)).toEqual(["failed", "failed"]);
    expect(view.deliveries.edges[0]!.node.attempts).toBe(4); // the first try and three retries
    const before = received.filter((r) => r.path === "/down").length;
    await issue("down-3@example.test");
    await new Promise((r) => setTimeout(r, 800));
    expect(received.filter((r) => r.path === "/down").length).toBe(before);
  });

  it("test-sends to one endpoint", async () => {
    const { endpoint, secret } = await createEndpoint(a.owner, "/test", ["credential.expired"]);
    const { testWebhookEndpoint } = await a.owner.request(TestWebhookEndpointDocument, { id: endpoint.id });
    expect(testWebhookEndpoint.__typename).toBe("WebhookDelivery");
    const hit = await waitFor(async () => received.find((r) => r.path === "/test"), "the test event");
    expect(new Webhook(secret).verify(hit.body, hit.headers as Record<string, string>)).toMatchObject({ type: "webhook.test" });
  });

  it("refuses bad endpoints, with a reason", async () => {
    const { createWebhookEndpoint } = await a.owner.request(CreateWebhookEndpointDocument, { input: { url: "ftp://example.com/x", eventTypes: ["credential.nope"] } });
    expect(createWebhookEndpoint.__typename).toBe("ValidationError");
    if (createWebhookEndpoint.__typename !== "ValidationError") return;
    expect(createWebhookEndpoint.fieldErrors.map((f) => f.path.join("."))).toEqual(expect.arrayContaining(["input.url", "input.eventTypes"]));
  });
});

describe("outbound requests to internal addresses", () => {
  it("are refused unless the deployment allows them, including names that resolve to one", async () => {
    const options = { headers: {}, body: "{}", timeoutMs: 1000, allowPrivate: false };
    await expect(postJson(`${receiverUrl}/x`, options)).rejects.toBeInstanceOf(BlockedDestinationError);
    await expect(postJson(receiverUrl.replace("127.0.0.1", "localhost") + "/x", options)).rejects.toBeInstanceOf(BlockedDestinationError);
    await expect(postJson("http://169.254.169.254/latest/meta-data", options)).rejects.toBeInstanceOf(BlockedDestinationError);
    await expect(postJson("http://[::1]:9/x", options)).rejects.toBeInstanceOf(BlockedDestinationError);
    const allowed = await postJson(`${receiverUrl}/allowed`, { ...options, allowPrivate: true });
    expect(allowed.status).toBe(200);
  });

  it("give up on an endpoint that answers too slowly, and read no more than a kilobyte of an answer", async () => {
    const slow = http.createServer((req, res) => {
      if (req.url === "/trickle") {
        res.writeHead(200);
        const timer = setInterval(() => res.write("."), 100);
        res.on("close", () => clearInterval(timer));
      } else res.writeHead(200).end("x".repeat(1_000_000));
    });
    await new Promise<void>((r) => slow.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
    try {
      const started = Date.now();
      await expect(postJson(`${base}/trickle`, { headers: {}, body: "{}", timeoutMs: 600, allowPrivate: true })).rejects.toThrow(/within 600 ms/);
      expect(Date.now() - started).toBeLessThan(2_000);
      const big = await postJson(`${base}/big`, { headers: {}, body: "{}", timeoutMs: 5_000, allowPrivate: true });
      expect(big).toMatchObject({ status: 200 });
      expect(big.body).toHaveLength(1000);
    } finally {
      slow.closeAllConnections();
      await new Promise((r) => slow.close(r));
    }
  });

  it("are refused at registration when the deployment does not allow them", async () => {
    const strict = await startTestApp();
    try {
      const tenant = await signUpTenant(strict, "Strict");
      for (const url of ["https://127.0.0.1/hook", "https://localhost/hook", "https://[::1]/hook", "https://10.1.2.3/hook", "http://partner.example/hook"]) {
        const { createWebhookEndpoint } = await tenant.owner.request(CreateWebhookEndpointDocument, { input: { url, eventTypes: ["credential.issued"] } });
        expect(createWebhookEndpoint.__typename, url).toBe("ValidationError");
      }
    } finally {
      await strict.close();
    }
  });
});

describe("events from public pages", () => {
  it("tell partners once an hour per credential, however often the page is reloaded", async () => {
    await createEndpoint(a.owner, "/viewed", ["credential.viewed"]);
    const credential = await issue("viewed@example.test");
    const page = credential.publicUrl.replace(app.config.publicUrl, app.server.url);
    const browser = { accept: "text/html", "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36" };
    expect((await fetch(page, { headers: browser })).status).toBe(200);
    await waitFor(async () => received.some((r) => r.path === "/viewed"), "the first view's webhook");
    for (let i = 0; i < 5; i++) expect((await fetch(page, { headers: browser })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 800));
    expect(received.filter((r) => r.path === "/viewed")).toHaveLength(1);
    const [views] = await app.db.admin`select count(*)::int as n from engagement_events where tenant_id = ${a.tenantId} and type = 'page_viewed'`;
    expect(views!.n).toBe(6); // every view is still counted
  });
});

describe("tenant isolation", () => {
  it("hides one tenant's endpoints and deliveries from another, and refuses to change them", async () => {
    const mine = (await a.owner.request(WebhookEndpointsDocument, { first: 50 })).tenant!.webhookEndpoints!.edges.map((e) => e.node);
    expect(mine.length).toBeGreaterThan(2);
    expect((await b.owner.request(WebhookEndpointsDocument, { first: 50 })).tenant!.webhookEndpoints!.edges).toEqual([]);
    const target = mine[0]!;
    expect((await b.owner.request(NodeDocument, { id: target.id })).node).toBeNull();
    expect(await deliveries(b.owner, target.id)).toBeNull();
    const update = await b.owner.request(UpdateWebhookEndpointDocument, { id: target.id, input: { url: "https://evil.example/hook" } });
    expect(update.updateWebhookEndpoint.__typename).toBe("NotFoundError");
    expect((await b.owner.request(TestWebhookEndpointDocument, { id: target.id })).testWebhookEndpoint.__typename).toBe("NotFoundError");
    expect((await b.owner.request(DeleteWebhookEndpointDocument, { id: target.id })).deleteWebhookEndpoint.__typename).toBe("NotFoundError");
  });

  it("never delivers one tenant's events to another tenant's endpoint", async () => {
    await createEndpoint(b.owner, "/beta", ["credential.issued"]);
    await issue("alpha-only@example.test");
    await waitFor(async () => received.some((r) => r.path === "/issued" && r.body.includes("credential.issued")), "alpha's own webhook");
    await new Promise((r) => setTimeout(r, 500));
    expect(received.filter((r) => r.path === "/beta")).toEqual([]);
  });
});
