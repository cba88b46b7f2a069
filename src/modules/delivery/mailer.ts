// Where messages go: Resend through its SDK, or (no RESEND_API_KEY: the embedded demo) nowhere: the
// send task then stores them in the database (status "stored"), where they can be read through the API.
import { Resend } from "resend";
import type { EmailConfig } from "../../config.js";

export interface OutgoingEmail {
  /** Our message id, sent as X-Entity-Ref-ID: each email's identity inside a batch. */
  ref: string;
  from: string;
  to: string;
  replyTo?: string | null;
  subject: string;
  html: string;
  text: string;
  tags?: { name: string; value: string }[];
}

export class MailerError extends Error {
  constructor(
    message: string,
    /** Worth trying again later (network, rate limit, provider outage, our own configuration) rather than a refusal. */
    readonly retryable: boolean,
    /**
     * What became of the email: "not_sent" (an answer said so), "unknown" (no answer, or one that does
     * not say: it may have gone out), "sent" (the provider took an earlier request under this key).
     */
    readonly fate: "not_sent" | "unknown" | "sent" = "not_sent",
    /** A refusal of our own making (key, region, sender, a malformed request): never the message's failure. */
    readonly ours = false,
  ) {
    super(message);
    this.name = "MailerError";
  }
}

export type BatchResult = { id: string } | { error: MailerError };

export interface Mailer {
  readonly provider: "resend" | "log";
  /** Sends once per idempotency key: a retry with the same key returns the first send's id. */
  send(email: OutgoingEmail, idempotencyKey: string): Promise<{ id: string }>;
  /**
   * Up to 100 emails in one request, once per idempotency key (the caller derives the key from the
   * exact set of messages, so a retried batch is the same batch). Throws when the whole request
   * failed; otherwise one result per email, in order.
   */
  sendBatch(emails: OutgoingEmail[], idempotencyKey: string): Promise<BatchResult[]>;
}

export const MAX_BATCH = 100;

// Refusals of the request itself rather than of the recipient: a deployment's key, region or sender, or a
// request we built wrong. Ours to fix, so retried (and visible as a failing job), never the message's failure.
const OURS = new Set([
  "missing_api_key", "invalid_api_key", "restricted_api_key", "invalid_access", "invalid_region", "invalid_from_address",
  "missing_required_field", "invalid_parameter", "invalid_idempotency_key", "method_not_allowed", "not_found",
]);

function classify(error: { statusCode: number | null; name: string; message: string }): MailerError {
  const status = error.statusCode ?? 0;
  if (error.name === "invalid_idempotent_request") {
    // Resend keeps a key once an email went out under it: that request was taken, this one never will be.
    return new MailerError(`Resend 409: an earlier request under this key was accepted (${error.message}); its message id is unknown`, false, "sent");
  }
  // No answer, an outage, or the first request still in flight (409 concurrent_idempotent_requests):
  // it may have gone out, and the same request is worth making again.
  const unknown = status === 0 || status >= 500 || error.name === "concurrent_idempotent_requests";
  const ours = status === 401 || status === 403 || OURS.has(error.name);
  return new MailerError(`Resend ${status || "error"} ${error.name}: ${error.message}`, unknown || ours || status === 429, unknown ? "unknown" : "not_sent", ours);
}

export function createMailer(config: EmailConfig): Mailer {
  if (!config.resendApiKey) return logMailer;
  const resend = new Resend(config.resendApiKey, config.resendBaseUrl ? { baseUrl: config.resendBaseUrl } : undefined);
  const toApi = (email: OutgoingEmail) => ({
    from: email.from,
    to: email.to,
    subject: email.subject,
    html: email.html,
    text: email.text,
    headers: { "X-Entity-Ref-ID": email.ref },
    ...(email.replyTo ? { replyTo: email.replyTo } : {}),
    ...(email.tags ? { tags: email.tags } : {}),
  });
  return {
    provider: "resend",
    async send(email, idempotencyKey) {
      let result;
      try {
        result = await resend.emails.send(toApi(email), { idempotencyKey });
      } catch (error) {
        throw new MailerError(`Resend unreachable: ${(error as Error).message}`, true, "unknown");
      }
      if (result.error) throw classify(result.error);
      return { id: result.data.id };
    },
    async sendBatch(emails, idempotencyKey) {
      let result;
      try {
        // Permissive: one bad address fails alone instead of holding back the other 99.
        result = await resend.batch.send(emails.map(toApi), { idempotencyKey, batchValidation: "permissive" });
      } catch (error) {
        throw new MailerError(`Resend unreachable: ${(error as Error).message}`, true, "unknown");
      }
      if (result.error) throw classify(result.error);
      const failed = new Map((result.data.errors ?? []).map((e) => [e.index, e.message]));
      const ids = [...result.data.data];
      return emails.map((_, index) => {
        const refused = failed.get(index);
        if (refused !== undefined) return { error: new MailerError(`Resend refused: ${refused}`, false) };
        const next = ids.shift();
        return next ? { id: next.id } : { error: new MailerError("Resend returned fewer ids than emails", true, "unknown") };
      });
    },
  };
}

// Never called for sending: the send task stores a "log" provider's messages instead (see send-emails.ts).
const logMailer: Mailer = {
  provider: "log",
  async send() {
    throw new MailerError("The demo outbox sends nothing", false);
  },
  async sendBatch() {
    throw new MailerError("The demo outbox sends nothing", false);
  },
};
