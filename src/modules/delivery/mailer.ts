// Where rendered messages go: Resend through its SDK, or (no RESEND_API_KEY: the embedded demo) nowhere
// but the database, where the rendered message is kept and can be read through the API.
import { randomUUID } from "node:crypto";
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
    /** Worth trying again later (network, rate limit, provider outage) rather than a refusal. */
    readonly retryable: boolean,
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

function classify(error: { statusCode: number | null; name: string; message: string }): MailerError {
  const status = error.statusCode ?? 0;
  if (error.name === "invalid_idempotent_request") {
    // The key was used before with a different body: the first request went through, this one never will.
    return new MailerError(`Resend 409: this message was already sent with different content under its key (${error.message})`, false);
  }
  // Outages, rate limits, a first request still in flight (409 concurrent_idempotent_requests) and a
  // refused API key (a deployment problem, fixed by an operator) are worth retrying with backoff.
  const retryable = status === 0 || status === 429 || status === 409 || status === 401 || status === 403 || status >= 500;
  return new MailerError(`Resend ${status || "error"} ${error.name}: ${error.message}`, retryable);
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
        throw new MailerError(`Resend unreachable: ${(error as Error).message}`, true);
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
        throw new MailerError(`Resend unreachable: ${(error as Error).message}`, true);
      }
      if (result.error) throw classify(result.error);
      const failed = new Map((result.data.errors ?? []).map((e) => [e.index, e.message]));
      const ids = [...result.data.data];
      return emails.map((_, index) => {
        const refused = failed.get(index);
        if (refused !== undefined) return { error: new MailerError(`Resend refused: ${refused}`, false) };
        const next = ids.shift();
        return next ? { id: next.id } : { error: new MailerError("Resend returned fewer ids than emails", true) };
      });
    },
  };
}

const logMailer: Mailer = {
  provider: "log",
  async send() {
    return { id: `log_${randomUUID()}` };
  },
  async sendBatch(emails) {
    return emails.map(() => ({ id: `log_${randomUUID()}` }));
  },
};
