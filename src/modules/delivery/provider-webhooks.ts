// POST /webhooks/resend: Resend's delivery events. The signature (Svix / Standard Webhooks: id,
// timestamp, HMAC) is checked with the SDK before anything is read; tampered or stale requests are
// refused and change nothing. apply_email_event() (sql/017) applies each event id once, forward only,
// to the Resend message named by Resend's id.
import type { IncomingMessage, ServerResponse } from "node:http";
import { Resend } from "resend";
import type { App } from "../../context.js";
import { withTenantSql } from "../../db/tenant-transaction.js";
import { readBody } from "../../lib/read-body.js";
import { codeForStatus, refuse } from "../../lib/http-answers.js";

const MAX_BODY = 256 * 1024;

interface ResendEvent {
  type?: string;
  created_at?: string;
  data?: { email_id?: string; created_at?: string; bounce?: { message?: string; type?: string; subType?: string }; failed?: { reason?: string } };
}

export function createProviderWebhookRoute(app: App) {
  const resend = new Resend(app.config.email.resendApiKey ?? "re_unused_for_verification");
  const secret = app.config.email.resendWebhookSecret;
  const anonymous = { dbRole: app.config.roles.anonymous, tenantId: null, userId: null };
  return async function handleProviderWebhook(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    if ((req.url ?? "").split("?")[0] !== "/webhooks/resend") return false;
    const reply = (status: number, body: object) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    const refused = (status: number, message: string) => refuse(res, { status, code: codeForStatus(status), message }, { html: false });
    if (req.method !== "POST") return refused(405, "Use POST");
    if (!secret) return refused(503, "Resend webhooks are not configured (RESEND_WEBHOOK_SECRET)");
    let payload: string;
    try {
      payload = (await readBody(req, MAX_BODY)).toString("utf8");
    } catch (error) {
      return refused(413, (error as Error).message);
    }
    let event: ResendEvent;
    try {
      event = resend.webhooks.verify({
        payload,
        headers: {
          id: String(req.headers["svix-id"] ?? req.headers["webhook-id"] ?? ""),
          timestamp: String(req.headers["svix-timestamp"] ?? req.headers["webhook-timestamp"] ?? ""),
          signature: String(req.headers["svix-signature"] ?? req.headers["webhook-signature"] ?? ""),
        },
        webhookSecret: secret,
      }) as ResendEvent;
    } catch {
      return refused(401, "Invalid or stale signature");
    }
    const eventId = String(req.headers["svix-id"] ?? req.headers["webhook-id"]);
    const messageId = event.data?.email_id;
    if (!event.type || !messageId) return reply(200, { ignored: true }), true;
    const detail = event.data?.bounce?.message ?? event.data?.failed?.reason ?? null;
    const occurredAt = new Date(event.created_at ?? event.data?.created_at ?? Date.now());
    const [row] = await withTenantSql(app.database.sql, anonymous, (tx) => tx<{ known: boolean; applied: boolean; status: string | null }[]>`
      select known, applied, status from apply_email_event(${eventId}, ${messageId}, ${event.type!}, ${Number.isNaN(occurredAt.getTime()) ? new Date() : occurredAt}, ${detail})`);
    // An unknown message may be one whose send is not recorded yet: answer 404 so Resend tries again later.
    if (!row?.known) return refused(404, "Unknown message");
    reply(200, { applied: row.applied, status: row.status });
    return true;
  };
}

