// Outbound HTTP to addresses tenants choose. Refuses private, loopback, link-local and other internal
// destinations (cloud metadata, the database next door) unless the deployment allows them. The check
// runs in the socket's own DNS lookup, so the address connected to is the address checked: a name that
// resolves to a public address for the check and a private one for the connection cannot slip through.
import http from "node:http";
import https from "node:https";
import dns from "node:dns";
import net from "node:net";

const blocked = new net.BlockList();
for (const [address, prefix] of [
  ["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], ["172.16.0.0", 12],
  ["192.0.0.0", 24], ["192.168.0.0", 16], ["198.18.0.0", 15], ["224.0.0.0", 4], ["240.0.0.0", 4],
] as const) blocked.addSubnet(address, prefix, "ipv4");
for (const [address, prefix] of [
  ["::", 96], ["::1", 128], ["fc00::", 7], ["fe80::", 10], ["fec0::", 10], ["ff00::", 8], ["::ffff:0:0", 96], ["64:ff9b::", 96],
  ["64:ff9b:1::", 48], ["2001::", 32], ["2001:db8::", 32], ["2002::", 16],
] as const) {
  blocked.addSubnet(address, prefix, "ipv6");
}

export function isPrivateAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 0) return true;
  return blocked.check(address, family === 4 ? "ipv4" : "ipv6");
}

/**
 * What the destination did: an HTTP exchange that could not complete because of the far end (refused
 * or reset connection, silence past the deadline, a TLS handshake or an answer that is not HTTP, a
 * name that does not exist, an address we may not reach). These count against a partner's endpoint;
 * any other error (our resolver, our network, our resources, a bug) is ours and does not.
 */
export class DestinationError extends Error {
  override name = "DestinationError";
}

export class BlockedDestinationError extends DestinationError {
  override name = "BlockedDestinationError";
}

// Error codes that can only come from the far end or its own DNS name. EAI_AGAIN (our resolver),
// ENETUNREACH (our routes), EMFILE and the like (our process) are deliberately absent.
const DESTINATION_CODES = new Set([
  "ECONNREFUSED", "ECONNRESET", "ECONNABORTED", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "EHOSTDOWN", "ENOTFOUND", "ENODATA", "EPROTO",
  "DEPTH_ZERO_SELF_SIGNED_CERT", "SELF_SIGNED_CERT_IN_CHAIN", "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID", "CERT_REVOKED", "CERT_UNTRUSTED", "CERT_REJECTED",
  "HOSTNAME_MISMATCH",
]);

/** The destination's failure as a DestinationError; anything else is returned as it is (ours). */
function destinationFailure(error: Error & { code?: string }): Error {
  if (error instanceof DestinationError) return error;
  const code = error.code ?? "";
  const tls = code.startsWith("ERR_TLS_") || code.startsWith("ERR_SSL_");
  // llhttp's parse errors: what came back was not an HTTP answer.
  const garbled = code.startsWith("HPE_");
  if (DESTINATION_CODES.has(code) || tls || garbled) return new DestinationError(`${code}: ${error.message}`, { cause: error });
  return error;
}

export interface PostResult {
  status: number;
  body: string;
  durationMs: number;
}

export interface PostOptions {
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  allowPrivate: boolean;
}

/**
 * POSTs and reads at most 1 KB of the answer. Rejects with a DestinationError for what the far end did
 * (timeouts, refused connections, TLS and protocol failures, blocked destinations), with the error as it
 * is for anything else (ours).
 */
export function postJson(target: string, options: PostOptions): Promise<PostResult> {
  const url = new URL(target);
  const client = url.protocol === "https:" ? https : url.protocol === "http:" ? http : null;
  if (!client) return Promise.reject(new BlockedDestinationError(`Unsupported scheme ${url.protocol}`));
  // Node connects to a literal address without calling lookup: check it here.
  const literal = url.hostname.replace(/^\[|\]$/g, "");
  if (net.isIP(literal) && isPrivateAddress(literal) && !options.allowPrivate) {
    return Promise.reject(new BlockedDestinationError(`${literal} is a private address: refused`));
  }
  const lookup: net.LookupFunction = (hostname, lookupOptions, callback) => {
    dns.lookup(hostname, { ...lookupOptions, all: true }, (error, addresses) => {
      if (error) return callback(error, "", 0);
      const list = addresses as dns.LookupAddress[];
      const bad = list.find((a) => isPrivateAddress(a.address));
      if (bad && !options.allowPrivate) {
        return callback(new BlockedDestinationError(`${hostname} resolves to a private address (${bad.address}): refused`), "", 0);
      }
      const first = list[0]!;
      if ((lookupOptions as { all?: boolean }).all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
      callback(null, first.address, first.family);
    });
  };
  const started = performance.now();
  return new Promise((resolve, reject) => {
    // One deadline for the whole exchange (DNS, connect, a slow trickle of an answer): a partner's
    // endpoint cannot hold a worker slot longer than this.
    const signal = AbortSignal.timeout(options.timeoutMs);
    const request = client.request(
      url,
      {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": "Laurel-Webhooks/1", ...options.headers, "content-length": Buffer.byteLength(options.body) },
        lookup,
        signal,
      },
      (response) => {
        let body = "";
        const done = () => resolve({ status: response.statusCode ?? 0, body, durationMs: Math.round(performance.now() - started) });
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          body += chunk.slice(0, 1000 - body.length);
          // The status is what counts; a kilobyte of the answer is kept for the log, the rest is not read.
          if (body.length >= 1000) {
            response.destroy();
            done();
          }
        });
        response.on("end", done);
        response.on("error", (error) => (body.length >= 1000 ? done() : reject(signal.aborted ? timedOut() : destinationFailure(error))));
      },
    );
    const timedOut = () => new DestinationError(`No complete answer within ${options.timeoutMs} ms`);
    request.on("error", (error) => reject(signal.aborted ? timedOut() : destinationFailure(error)));
    request.end(options.body);
  });
}

/** Refuses literal private hosts at registration (names are checked again at each delivery). */
export function checkEndpointUrl(raw: string, allowPrivate: boolean): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "Give a full URL, e.g. https://example.com/webhooks/laurel";
  }
  if (url.protocol !== "https:" && !(allowPrivate && url.protocol === "http:")) return "Webhook endpoints must use https://";
  if (url.username || url.password) return "Put credentials in the signing secret, not the URL";
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (!allowPrivate && (host === "localhost" || host.endsWith(".localhost") || (net.isIP(host) && isPrivateAddress(host)))) {
    return "Webhook endpoints must be reachable on the public internet";
  }
  return null;
}
