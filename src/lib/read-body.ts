// A request body, whole, up to a limit: beyond it the read stops with an error carrying status 413.
import type { IncomingMessage } from "node:http";
import { ValidationError } from "../errors.js";

/** The refusal of a body over `limit` bytes: an Error with status 413, as every route maps it. */
export function bodyTooLarge(limit: number): Error & { status: 413 } {
  return Object.assign(new Error(`Body exceeds ${limit} bytes`), { status: 413 as const });
}

/** True when the request says (Content-Length) that its body is over `limit`: refused before any of it is read. */
export function declaresTooLarge(req: IncomingMessage, limit: number): boolean {
  return Number(req.headers["content-length"] ?? 0) > limit;
}

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  if (declaresTooLarge(req, limit)) throw bodyTooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw bodyTooLarge(limit);
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
