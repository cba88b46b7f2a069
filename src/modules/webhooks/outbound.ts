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

export class BlockedDestinationError extends Error {
  override name = "BlockedDestinationError";
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

/** POSTs and reads at most 1 KB of the answer. Throws on network errors, timeouts and blocked destinations. */
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
        response.on("error", (error) => (body.length >= 1000 ? done() : reject(error)));
      },
    );
    request.on("error", (error) => reject(signal.aborted ? new Error(`No complete answer within ${options.timeoutMs} ms`) : error));
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
