// Failures on Laurel's side are Laurel's: when the worker cannot sign a delivery (the KEK that sealed
// the endpoint's secret is no longer configured) the partner's endpoint is not charged, the tenant sees
// a failing job with the reason, and the delivery goes out by itself once the deployment is fixed.
// Only what the destination does (its status, its silence, a refused connection, a broken TLS
// handshake) counts against it.
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Webhook } from "standardwebhooks";
import {
  ActivateTemplateDocument,
  CreateTemplateDocument,
  CreateWebhookEndpointDocument,
  FailingJobsDocument,
  IssueCredentialDocument,
  WebhookDeliveriesDocument,
} from "../../src/sdk/generated.js";
import type { QueueWorker } from "../../src/modules/jobs/worker.js";
import { startQueueWorker } from "../../src/modules/jobs/worker.js";
import { createTasks } from "../../src/modules/jobs/tasks.js";
import { DestinationError, postJson } from "../../src/modules/webhooks/outbound.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, type TestTenant } from "../helpers/factories.js";
import { deliveryConfig, startTestWorker, waitFor } from "../helpers/worker.js";

let receiver: http.Server;
let receiverUrl: string;
const received: { path: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
let app: TestApp;
let a: TestTenant;
let templateId: string;

async function createEndpoint(url: string) {
  const { createWebhookEndpoint } = await a.owner.request(CreateWebhookEndpointDocument, { input: { url, eventTypes: ["credential.issued"] } });
  if (createWebhookEndpoint.__typename !== "WebhookSecretPayload") throw new Error(JSON.stringify(createWebhookEndpoint));
  return createWebhookEndpoint;
}

async function endpointView(id: string) {
  const { node } = await a.owner.request(WebhookDeliveriesDocument, { endpointId: id, first: 10 });
  if (!node || node.__typename !== "WebhookEndpoint") throw new Error("endpoint not found");
  return node;
}

async function issue(email: string) {
  const { issueCredential } = await a.owner.request(IssueCredentialDocument, { input: { templateId, recipient: { email } } });
  if (issueCredential.__typename !== "Credential") throw new Error(JSON.stringify(issueCredential));
}

const failingJobs = async () => (await a.owner.request(FailingJobsDocument, { failedOnly: false })).tenant!.failingJobs;

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      received.push({ path: req.url ?? "/", headers: req.headers, body });
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  const config = deliveryConfig();
  // One charged delivery would disable an endpoint: nothing of ours may ever count as one.
  app = await startTestApp({ ...config, webhooks: { ...config.webhooks!, disableAfterFailures: 1 } });
  a = await signUpTenant(app, "Alpha Academy");
  const { createTemplate } = await a.owner.request(CreateTemplateDocument, { kind: "BADGE", content: { name: "Hook Badge", description: "d", criteriaNarrative: "c" } });
  if (createTemplate.__typename !== "Template") throw new Error("template");
  templateId = createTemplate.id;
  await a.owner.request(ActivateTemplateDocument, { id: templateId });
});

afterAll(async () => {
  await app?.close();
  receiver?.closeAllConnections();
  await new Promise((r) => receiver?.close(r));
});

describe("a webhook secret the worker cannot open", () => {
  it("does not charge the partner's endpoint, shows a failing job, and delivers once the KEK is back", async () => {
    const { endpoint, secret } = await createEndpoint(`${receiverUrl}/healthy`);
    // The worker of a deployment whose LAUREL_KEKS lost version 1, which sealed the endpoint's secret.
    const lostKek = { config: { ...app.config, queue: { ...app.config.queue, pollIntervalMs: 100 }, keks: new Map([[2, Buffer.alloc(32, 2)]]) }, database: app.database };
    let broken: QueueWorker | null = await startQueueWorker(lostKek, createTasks(lostKek, { bulk: { log: () => {} } }));
    let healthy: QueueWorker | null = null;
    try {
      await issue("kek@example.test");
      // Settled either way: our failing job shows, or (the fault) the delivery was charged to the partner.
      const job = await waitFor(async () => {
        const ours = (await failingJobs()).find((j) => j.task === "deliver_webhook");
        if (ours) return ours;
        const view = await endpointView(endpoint.id);
        return view.deliveries.edges[0]?.node.status === "failed" || !view.enabled ? { charged: view } : null;
      }, "the delivery to fail on our side");
      expect(job).toMatchObject({ task: "deliver_webhook", failed: false });
      expect("lastError" in job && job.lastError).toMatch(/key-encryption key version 1 is not configured/i);
      expect("lastError" in job && job.lastError).toMatch(/not charged/);
      const view = await endpointView(endpoint.id);
      expect(view).toMatchObject({ enabled: true, consecutiveFailures: 0, disabledReason: null });
      const delivery = view.deliveries.edges[0]!.node;
      expect(delivery).toMatchObject({ status: "pending", attempts: 0, lastError: null });
      expect(delivery.attemptLog).toEqual([]);
      expect(received.filter((r) => r.path === "/healthy")).toHaveLength(0);

      // The operator restores the KEK: the same job goes out by itself, once, signed with the partner's secret.
      await broken.stop();
      broken = null;
      healthy = await startTestWorker(app);
      const done = await waitFor(async () => {
        const d = (await endpointView(endpoint.id)).deliveries.edges[0]?.node;
        return d?.status === "succeeded" ? d : null;
      }, "the delivery after the fix", 25_000);
      expect(done.attempts).toBe(1);
      const hits = received.filter((r) => r.path === "/healthy");
      expect(hits).toHaveLength(1);
      expect(new Webhook(secret).verify(hits[0]!.body, hits[0]!.headers as Record<string, string>)).toMatchObject({ type: "credential.issued" });
      expect((await failingJobs()).filter((j) => j.task === "deliver_webhook")).toEqual([]);
    } finally {
      await broken?.stop();
      await healthy?.stop();
    }
  }, 60_000);
});

describe("what counts against a partner's endpoint", () => {
  const closedPort = async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as AddressInfo;
    await new Promise((r) => server.close(r));
    return port;
  };
  const options = { headers: {}, body: "{}", timeoutMs: 1_000, allowPrivate: true };

  it("a refused connection, a silent endpoint, a broken TLS handshake and a garbled answer are the destination's", async () => {
    const refused = await postJson(`http://127.0.0.1:${await closedPort()}/x`, options).catch((e: Error) => e);
    expect(refused).toBeInstanceOf(DestinationError);
    expect((refused as Error).message).toMatch(/ECONNREFUSED/);

    const sockets = new Set<net.Socket>();
    const silent = net.createServer((s) => sockets.add(s)); // accepts, never answers
    const garbled = net.createServer((s) => (sockets.add(s), s.end("this is not HTTP\r\n\r\n")));
    const plain = http.createServer((_q, r) => r.end("plain http")); // https:// to it fails the handshake
    for (const s of [silent, garbled, plain]) await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    const port = (s: net.Server) => (s.address() as AddressInfo).port;
    try {
      const timedOut = await postJson(`http://127.0.0.1:${port(silent)}/x`, { ...options, timeoutMs: 300 }).catch((e: Error) => e);
      expect(timedOut).toBeInstanceOf(DestinationError);
      expect((timedOut as Error).message).toMatch(/within 300 ms/);
      const bad = await postJson(`http://127.0.0.1:${port(garbled)}/x`, options).catch((e: Error) => e);
      expect(bad).toBeInstanceOf(DestinationError);
      const tls = await postJson(`https://127.0.0.1:${port(plain)}/x`, options).catch((e: Error) => e);
      expect(tls).toBeInstanceOf(DestinationError);
      expect((tls as Error).message).toMatch(/SSL|TLS|EPROTO/i);
    } finally {
      for (const s of sockets) s.destroy();
      plain.closeAllConnections();
      for (const s of [silent, garbled, plain]) await new Promise((r) => s.close(r));
    }
  });

  it("an error in our own request (a bug) is not the destination's", async () => {
    const ours = await postJson(`${receiverUrl}/x`, { ...options, headers: { "webhook-id": "line\nbreak" } }).catch((e: Error) => e);
    expect(ours).toBeInstanceOf(Error);
    expect(ours).not.toBeInstanceOf(DestinationError);
  });

  it("an endpoint that refuses connections is charged and disabled once it failed every retry", async () => {
    const { endpoint } = await createEndpoint(`http://127.0.0.1:${await closedPort()}/gone`);
    const worker = await startTestWorker(app);
    try {
      await issue("refused@example.test");
      const view = await waitFor(async () => {
        const v = await endpointView(endpoint.id);
        return v.enabled ? null : v;
      }, "the endpoint disabled", 20_000);
      expect(view.consecutiveFailures).toBe(1);
      const delivery = view.deliveries.edges[0]!.node;
      expect(delivery).toMatchObject({ status: "failed", attempts: 4 });
      expect(delivery.attemptLog.every((l) => l.statusCode === null && /ECONNREFUSED/.test(l.error ?? ""))).toBe(true);
      expect((await failingJobs()).filter((j) => j.task === "deliver_webhook")).toEqual([]);
    } finally {
      await worker.stop();
    }
  });
});
