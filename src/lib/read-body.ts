// A request body, whole, up to a limit: beyond it the read stops with an error carrying status 413.
import type { IncomingMessage } from "node:http";
import { ValidationError } from "../errors.js";

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw Object.assign(new Error(`Body exceeds ${limit} bytes`), { status: 413 });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * A small form, up to `limit` bytes: URL-encoded as a browser posts it, or a JSON object of strings as a
 * program may send it (content-type application/json; other values are dropped). Not JSON when it says
 * it is: a ValidationError; over the limit: readBody's 413.
 */
export async function readForm(req: IncomingMessage, limit: number): Promise<URLSearchParams> {
  const body = (await readBody(req, limit)).toString("utf8");
  if (!String(req.headers["content-type"] ?? "").startsWith("application/json")) return new URLSearchParams(body);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw ValidationError.field([], "The body is not JSON");
  }
  const form = new URLSearchParams();
  if (parsed && typeof parsed === "object") for (const [k, v] of Object.entries(parsed)) if (typeof v === "string") form.set(k, v);
  return form;
}
