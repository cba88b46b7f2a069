// A local stand-in for Resend's HTTP API, for the real resend SDK (RESEND_BASE_URL points here). It
// records every call and keeps Resend's idempotency promise: a repeated Idempotency-Key returns the
// first response and sends nothing more. Failures and latency can be injected.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";

export interface SentEmail {
  id: string;
  idempotencyKey: string | null;
  from: string;
  to: string[];
  subject: string;
  html: string;
  text: string;
  replyTo: string[] | null;
  tags: { name: string; value: string }[];
}

export interface FakeResend {
  url: string;
  /** Every request, in order. */
  calls: { method: string; path: string; idempotencyKey: string | null; status: number }[];
  /** Emails actually "sent": one per idempotency key. */
  sent: SentEmail[];
  /** Decide the answer to a send before it happens: return a status to fail it. */
  failWith: ((email: SentEmail, attempt: number) => number | null) | null;
  latencyMs: number;
  domains: Map<string, { id: string; name: string; status: string }>;
  close(): Promise<void>;
}

export async function startFakeResend(): Promise<FakeResend> {
  const byKey = new Map<string, { status: number; body: string }>();
  const attempts = new Map<string, number>();
  const fake: FakeResend = {
    url: "",
    calls: [],
    sent: [],
    failWith: null,
    latencyMs: 0,
    domains: new Map(),
    close: async () => {},
  };
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : {};
    const key = (req.headers["idempotency-key"] as string | undefined) ?? null;
    const path = (req.url ?? "").split("?")[0]!;
    const answer = (status: number, payload: object) => {
      fake.calls.push({ method: req.method ?? "", path, idempotencyKey: key, status });
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(payload));
    };
    if (fake.latencyMs) await new Promise((r) => setTimeout(r, fake.latencyMs));
    if (req.headers.authorization !== "Bearer re_test_key") return answer(401, { name: "invalid_api_key", message: "API key is invalid", statusCode: 401 });
    if (req.method === "POST" && path === "/emails") {
      if (key && byKey.has(key)) {
        const first = byKey.get(key)!;
        fake.calls.push({ method: "POST", path, idempotencyKey: key, status: first.status });
        res.writeHead(first.status, { "content-type": "application/json" });
        return res.end(first.body);
      }
      const email: SentEmail = {
        id: randomUUID(),
        idempotencyKey: key,
        from: body.from,
        to: [body.to].flat(),
        subject: body.subject,
        html: body.html,
        text: body.text,
        replyTo: body.reply_to ? [body.reply_to].flat() : null,
        tags: body.tags ?? [],
      };
      const attempt = (attempts.get(key ?? email.id) ?? 0) + 1;
      attempts.set(key ?? email.id, attempt);
      const failure = fake.failWith?.(email, attempt) ?? null;
      if (failure) return answer(failure, { name: failure === 422 ? "validation_error" : "internal_server_error", message: `injected ${failure}`, statusCode: failure });
      fake.sent.push(email);
      const payload = JSON.stringify({ id: email.id });
      if (key) byKey.set(key, { status: 200, body: payload });
      return answer(200, { id: email.id });
    }
    if (req.method === "POST" && path === "/domains") {
      const domain = { id: randomUUID(), name: body.name, status: "not_started" };
      fake.domains.set(domain.id, domain);
      return answer(200, { id: domain.id, name: domain.name, status: domain.status, records: [{ record: "SPF", name: "send", type: "MX", value: "feedback-smtp.example", status: "not_started" }] });
    }
    const match = /^\/domains\/([^/]+)(\/verify)?$/.exec(path);
    if (match && fake.domains.has(match[1]!)) {
      const domain = fake.domains.get(match[1]!)!;
      if (match[2] && req.method === "POST") {
        domain.status = "verified";
        return answer(200, { object: "domain", id: domain.id });
      }
      return answer(200, { object: "domain", ...domain, records: [] });
    }
    answer(404, { name: "not_found", message: `no route ${req.method} ${path}`, statusCode: 404 });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return fake;
}

export const FAKE_RESEND_KEY = "re_test_key";
