// Protection in transit, in one place, applied by src/server.ts to every request before any route runs:
// the security headers every response carries (whatever route, status or content type wrote it), and,
// in production, the refusal of passwords, tokens and signed links that arrived over plain HTTP.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { BlockList, isIP } from "node:net";
import type { TLSSocket } from "node:tls";
import onHeaders from "on-headers";
import type { Config } from "../config.js";
import { acceptsHtml, refuse } from "./http-answers.js";

/** Two years, and every subdomain: what browsers' preload lists ask for. */
export const HSTS = "max-age=63072000; includeSubDomains";

/**
 * Responses that are not HTML (JSON, images, PDFs, CSV, redirects) load nothing and are never framed;
 * HTML pages bring their own policy (lib/html.ts: a nonce per page). A PDF keeps only frame-ancestors:
 * browsers' PDF viewers draw it as a plugin, which default-src 'none' (object-src) would block.
 */
const NOT_HTML_CSP = "default-src 'none'; frame-ancestors 'none'";
const PDF_CSP = "frame-ancestors 'none'";
/** HTML that came without a policy of its own: show it, run and load nothing. */
const BARE_HTML_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/**
 * GraphiQL (development only) is one inline bundle whose editors start workers from blob: URLs: it needs
 * inline scripts and blob: workers (checked in Chromium: test/api/transit.test.ts), and talks to /graphql only.
 */
const GRAPHIQL_CSP =
  "default-src 'self'; script-src 'self' 'unsafe-inline'; worker-src blob:; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** Features no Laurel page uses; the credential page's "copy link" needs clipboard-write, left at its default (self). */
const PERMISSIONS_POLICY = "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=(), browsing-topics=()";

/** The same headers on every response; a route that set a stricter one of its own keeps it. */
const ALWAYS: Record<string, string> = {
  "x-content-type-options": "nosniff",
  // No page needs to tell other sites where its visitors came from, and some addresses carry signed links.
  "referrer-policy": "no-referrer",
  // Nothing Laurel serves is meant to be embedded in another site's frame (no embeddable page exists).
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "permissions-policy": PERMISSIONS_POLICY,
};

export interface Transit {
  /** Whether `req` reached us over TLS: directly, or from a trusted proxy that says X-Forwarded-Proto: https. */
  secure(req: IncomingMessage): boolean;
  /** Registers the security headers on `res`; they are filled in just before its headers are written. */
  protect(req: IncomingMessage, res: ServerResponse): void;
  /**
   * In production, answers a request that carries a secret over plain HTTP with 403 HTTPS_REQUIRED
   * (true: answered; the route must not run). Elsewhere, or over TLS, false.
   */
  refusePlainHttp(req: IncomingMessage, res: ServerResponse): boolean;
  /** Node's own answer to a request it cannot parse or that is too slow (400, 408, 431), with the same headers. */
  answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void;
}

/** The transit policy for `config`: its TLS, trusted proxies, public URL and environment. */
export function createTransit(config: Pick<Config, "tls" | "trustedProxies" | "publicUrl" | "production" | "graphiql">): Transit {
  const proxies = blockListOf(config.trustedProxies);
  const hsts = sendsHsts(config);
  const secure = (req: IncomingMessage) => {
    if ((req.socket as TLSSocket).encrypted) return true;
    const peer = unmapped(req.socket.remoteAddress);
    if (!peer || !proxies.check(peer, isIP(peer) === 6 ? "ipv6" : "ipv4")) return false;
    // A proxy appends to what its client sent: only the last value is the trusted proxy's own.
    const proto = String(req.headers["x-forwarded-proto"] ?? "").split(",").at(-1)!.trim().toLowerCase();
    return proto === "https";
  };
  return {
    secure,
    protect(req, res) {
      onHeaders(res, function fillIn(this: ServerResponse) {
        for (const [name, value] of Object.entries(ALWAYS)) if (!this.hasHeader(name)) this.setHeader(name, value);
        if (hsts) this.setHeader("strict-transport-security", HSTS);
        if (!this.hasHeader("content-security-policy")) this.setHeader("content-security-policy", policyFor(req, this, config.graphiql));
        if (this.hasHeader("set-cookie") && secure(req)) this.setHeader("set-cookie", secureCookies(this.getHeader("set-cookie")));
      });
    },
    refusePlainHttp(req, res) {
      if (!config.production || !carriesSecret(req) || secure(req)) return false;
      refuseHttpsRequired(req, res, config.publicUrl);
      return true;
    },
    answerClientError(error, socket) {
      if (error.code === "ECONNRESET" || !socket.writable) return void socket.destroy();
      const status = CLIENT_ERRORS[error.code ?? ""] ?? "400 Bad Request";
      const headers = { "content-length": "0", connection: "close", ...ALWAYS, "content-security-policy": NOT_HTML_CSP, ...(hsts ? { "strict-transport-security": HSTS } : {}) };
      socket.end(`HTTP/1.1 ${status}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join("\r\n")}\r\n\r\n`);
    },
  };
}

const CLIENT_ERRORS: Record<string, string> = { HPE_HEADER_OVERFLOW: "431 Request Header Fields Too Large", ERR_HTTP_REQUEST_TIMEOUT: "408 Request Timeout" };

/**
 * HSTS when the public URL is https or Laurel serves TLS itself, except for a public URL on localhost or
 * an IP address: there it would pin every other local development server to https for two years (and
 * browsers ignore it for IP addresses). Browsers also ignore it on a plain-HTTP response, so sending it
 * there, behind a proxy that terminates TLS, is harmless.
 */
export function sendsHsts(config: Pick<Config, "tls" | "publicUrl">): boolean {
  let url: URL;
  try {
    url = new URL(config.publicUrl);
  } catch {
    return false;
  }
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (isIP(host) || host === "localhost" || host.endsWith(".localhost")) return false;
  return url.protocol === "https:" || config.tls !== undefined;
}

function policyFor(req: IncomingMessage, res: ServerResponse, graphiql: boolean): string {
  const type = String(res.getHeader("content-type") ?? "");
  if (/^application\/pdf/i.test(type)) return PDF_CSP;
  if (!/^text\/html/i.test(type)) return NOT_HTML_CSP;
  return graphiql && (req.url ?? "").startsWith("/graphql") ? GRAPHIQL_CSP : BARE_HTML_CSP;
}

function secureCookies(value: ReturnType<ServerResponse["getHeader"]>): string[] {
  const cookies = Array.isArray(value) ? value : [String(value)];
  return cookies.map((c) => (/;\s*secure\s*(;|$)/i.test(c) ? c : `${c}; Secure`));
}

// Where a request carries something that lets its bearer act: a password, a session or API key, a
// one-time token, or a signed link to personal data.
const SECRET_PATHS = [
  /^\/graphql(\/|$)/, // logIn, signUp, resetPassword, acceptInvitation send passwords and tokens in the body
  /^\/password-reset(\/ask)?$/,
  /^\/invitations\/accept$/,
  /^\/privacy\/links\//, // one-time signed links (v, sig)
  /^\/privacy\/exports\//, // a person's export, behind a signed link
  /^\/tenant-exports\//, // a tenant's export, behind a signed link
  /^\/issuers\/[^/]+\/credentials\/[^/]+\/claim$/, // the claim token
];

/**
 * Whether `req` carries a credential: an Authorization header (API key or session: Laurel's sessions are
 * bearer tokens, it sets no cookies), or a path whose body or query holds one. Cookies are not looked at:
 * Laurel reads none, and a browser may send another site's cookies set for a parent domain.
 */
export function carriesSecret(req: IncomingMessage): boolean {
  if (req.headers.authorization !== undefined) return true;
  if (req.method === "OPTIONS") return false; // a preflight carries no secret and no body
  const path = (req.url ?? "/").split("?")[0]!;
  return SECRET_PATHS.some((p) => p.test(path));
}

/**
 * 403 HTTPS_REQUIRED, in the shape of the surface asked (GraphQL errors, or { error } / a page), and
 * nothing of the request in it. The connection closes: the body, unread, is not parsed as a next request.
 */
function refuseHttpsRequired(req: IncomingMessage, res: ServerResponse, publicUrl: string) {
  const https = publicUrl.startsWith("https://") ? publicUrl : "https://";
  const message = `Laurel accepts passwords, tokens and signed links only over HTTPS: send this request to ${https}. A password or key already sent over plain HTTP may have been read on the way: replace it.`;
  const headers = { connection: "close", "cache-control": "no-store" };
  if ((req.url ?? "").startsWith("/graphql")) {
    res.writeHead(403, { "content-type": "application/json; charset=utf-8", ...headers });
    res.end(JSON.stringify({ errors: [{ message, extensions: { code: "HTTPS_REQUIRED" } }] }));
  } else refuse(res, { status: 403, code: "HTTPS_REQUIRED", message }, { html: acceptsHtml(req), title: "Use HTTPS", headers });
}

function blockListOf(entries: string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address, bits] = entry.split("/") as [string, string | undefined];
    const family = isIP(address) === 6 ? "ipv6" : "ipv4";
    if (bits === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(bits), family);
  }
  return list;
}

/** An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d; proxies are listed as a.b.c.d. */
function unmapped(address: string | undefined): string | undefined {
  return address?.startsWith("::ffff:") && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}
