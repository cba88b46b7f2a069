// A local stand-in for Resend's HTTP API, for the real resend SDK (RESEND_BASE_URL points here). It
// records every call and keeps Resend's idempotency promise: a repeated Idempotency-Key returns the
// first response and sends nothing more, and the same key with a different body is refused (409). Failures,
// latency and lost answers (accepted, then the connection drops) can be injected.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";

export interface SentEmail {
  id: string;
  /** The request's Idempotency-Key (a batch's key for emails sent in a batch). */
  idempotencyKey: string | null;
  /** X-Entity-Ref-ID: Laurel's message id. */
  ref: string | null;
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
  /** Decide the answer to a send before it happens: return a status (or a status and Resend's error name) to fail it. */
  failWith: ((email: SentEmail, attempt: number) => number | { status: number; name: string } | null) | null;
  /**
   * Called once a request's emails are accepted (sent, and remembered under its key), before the answer:
   * resolve true and the connection is dropped unanswered, as when an answer is lost on the way back.
   */
  loseAnswer: ((emails: SentEmail[]) => boolean | Promise<boolean>) | null;
  /** Answer every replay of a key with 409 invalid_idempotent_request, as if its body had changed. */
  conflictOnReplay: boolean;
  latencyMs: number;
  /** Delay after an email is accepted, before the answer: a crash then leaves a sent but unrecorded email. */
  responseDelayMs: number;
  domains: Map<string, { id: string; name: string; status: string }>;
  close(): Promise<void>;
}

export async function startFakeResend(): Promise<FakeResend> {
  const byKey = new Map<string, { status: number; body: string; request: string }>();
  const attempts = new Map<string, number>();
  const fake: FakeResend = {
    url: "",
    calls: [],
    sent: [],
    failWith: null,
    loseAnswer: null,
    conflictOnReplay: false,
    latencyMs: 0,
    responseDelayMs: 0,
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
    const request = JSON.stringify(body);
    const replay = () => {
      const first = byKey.get(key!)!;
      // As Resend: the same key with a different body is refused, not replayed.
      if (first.request !== request || fake.conflictOnReplay) return answer(409, { name: "invalid_idempotent_request", message: "Same idempotency key used with a different request payload", statusCode: 409 });
      fake.calls.push({ method: "POST", path, idempotencyKey: key, status: first.status });
      res.writeHead(first.status, { "content-type": "application/json" });
      res.end(first.body);
    };
    const toEmail = (item: Record<string, any>): SentEmail => ({
      id: randomUUID(),
      idempotencyKey: key,
      ref: item.headers?.["X-Entity-Ref-ID"] ?? null,
      from: item.from,
      to: [item.to].flat(),
      subject: item.subject,
      html: item.html,
      text: item.text,
      replyTo: item.reply_to ? [item.reply_to].flat() : null,
      tags: item.tags ?? [],
    });
    const attemptOf = (email: SentEmail) => {
      const n = (attempts.get(email.ref ?? key ?? email.id) ?? 0) + 1;
      attempts.set(email.ref ?? key ?? email.id, n);
      return n;
    };
    const failure = (email: SentEmail) => {
      const f = fake.failWith?.(email, attemptOf(email)) ?? null;
      if (f === null) return null;
      const status = typeof f === "number" ? f : f.status;
      return { status, name: typeof f === "number" ? (f === 422 ? "validation_error" : "internal_server_error") : f.name };
    };
    // Answers a request whose emails were accepted, unless the answer is to be lost.
    const accepted = async (emails: SentEmail[], payload: string) => {
      if (await fake.loseAnswer?.(emails)) {
        fake.calls.push({ method: "POST", path, idempotencyKey: key, status: 0 });
        return req.socket.destroy();
      }
      fake.calls.push({ method: "POST", path, idempotencyKey: key, status: 200 });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(payload);
    };
    if (req.method === "POST" && path === "/emails") {
      if (key && byKey.has(key)) return replay();
      const email = toEmail(body);
      const refused = failure(email);
      if (refused) return answer(refused.status, { name: refused.name, message: `injected ${refused.status}`, statusCode: refused.status });
      fake.sent.push(email);
      const payload = JSON.stringify({ id: email.id });
      if (key) byKey.set(key, { status: 200, body: payload, request });
      return accepted([email], payload);
    }
    if (req.method === "POST" && path === "/emails/batch") {
      if (key && byKey.has(key)) return replay();
      const permissive = req.headers["x-batch-validation"] === "permissive";
      const emails = (body as Record<string, unknown>[]).map(toEmail);
      const failures = emails.map(failure);
      const outage = failures.find((f) => f && f.status >= 500);
      if (outage) return answer(outage.status, { name: outage.name, message: `injected ${outage.status}`, statusCode: outage.status });
      if (!permissive && failures.some(Boolean)) return answer(422, { name: "validation_error", message: "injected 422", statusCode: 422 });
      const data: { id: string }[] = [];
      const errors: { index: number; message: string }[] = [];
      emails.forEach((email, index) => {
        if (failures[index]) errors.push({ index, message: `injected ${failures[index]!.status}` });
        else {
          fake.sent.push(email);
          data.push({ id: email.id });
        }
      });
      const payload = JSON.stringify(permissive ? { data, errors } : { data });
      if (key) byKey.set(key, { status: 200, body: payload, request });
      if (fake.responseDelayMs) await new Promise((r) => setTimeout(r, fake.responseDelayMs));
      return accepted(emails.filter((_, index) => !failures[index]), payload);
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
