// Where rendered messages go: Resend through its SDK, or (no RESEND_API_KEY: the embedded demo) nowhere
// but the database, where the rendered message is kept and can be read through the API.
import { randomUUID } from "node:crypto";
import { Resend } from "resend";
import type { EmailConfig } from "../../config.js";

export interface OutgoingEmail {
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

export interface Mailer {
  readonly provider: "resend" | "log";
  /** Sends once per idempotency key: a retry with the same key returns the first send's id. */
  send(email: OutgoingEmail, idempotencyKey: string): Promise<{ id: string }>;
}

export function createMailer(config: EmailConfig): Mailer {
  if (!config.resendApiKey) return logMailer;
  const resend = new Resend(config.resendApiKey, config.resendBaseUrl ? { baseUrl: config.resendBaseUrl } : undefined);
  return {
    provider: "resend",
    async send(email, idempotencyKey) {
      let result;
      try {
        result = await resend.emails.send(
          {
            from: email.from,
            to: email.to,
            subject: email.subject,
            html: email.html,
            text: email.text,
            ...(email.replyTo ? { replyTo: email.replyTo } : {}),
            ...(email.tags ? { tags: email.tags } : {}),
          },
          { idempotencyKey },
        );
      } catch (error) {
        throw new MailerError(`Resend unreachable: ${(error as Error).message}`, true);
      }
      if (result.error) {
        const status = result.error.statusCode ?? 0;
        // 429 and 5xx pass; a 409 means the first request with this key is still in flight.
        const retryable = status === 0 || status === 429 || status === 409 || status >= 500;
        throw new MailerError(`Resend ${status || "error"} ${result.error.name}: ${result.error.message}`, retryable);
      }
      return { id: result.data.id };
    },
  };
}

const logMailer: Mailer = {
  provider: "log",
  async send() {
    return { id: `log_${randomUUID()}` };
  },
};
