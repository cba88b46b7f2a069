// Who is probably on the other end of an engagement request: a device class, and whether it is a
// machine (crawler, mail privacy proxy, link scanner) rather than a person. Also the day-keyed IP
// hash: the raw address is used here for one HMAC and never leaves this file.
import { createHmac, createSecretKey, hkdfSync, type KeyObject } from "node:crypto";
import { isbot } from "isbot";
import { currentKekVersion } from "./tracking.js";

export type UaClass = "desktop" | "mobile" | "tablet" | "bot" | "mail_proxy" | "link_scanner" | "unknown";

export interface Classified {
  uaClass: UaClass;
  machine: boolean;
}

// Mail providers that fetch images for their users, on delivery or on open: an "open" through them
// says little about a person. Gmail and Yahoo/AOL name themselves in the user-agent.
const MAIL_PROXY = /GoogleImageProxy|ggpht\.com|YahooMailProxy|AOL ?Mail ?Proxy|Outlook-Image-Proxy/i;
// Apple Mail Privacy Protection prefetches every image through Apple's relays with a bare WebKit
// user-agent: Macintosh, AppleWebKit, "(KHTML, like Gecko)" and nothing after it, no Safari/Version
// token. Apple Mail showing images itself sends the same string, but since MPP is on by default for
// most Apple Mail users, opens with this exact shape are counted as machine opens (as the mail
// industry does). It is applied to the pixel only: a browser following a click always adds Safari/.
const APPLE_MPP = /^Mozilla\/5\.0 \((?:Macintosh|iPhone|iPad)[^)]*\) AppleWebKit\/[\d.]+ \(KHTML, like Gecko\)$/;
// Security gateways that open every link in a message before the person does.
const LINK_SCANNER = new RegExp(
  [
    "safelinks", "Microsoft Office (?:Protocol|Existence) Discovery", "ms-office", "BingPreview", "SkypeUriPreview",
    "Proofpoint", "ppops-", "Mimecast", "Barracuda", "Symantec", "MessageLabs", "Trend ?Micro", "Forcepoint",
    "IronPort", "Cisco-?Secure", "FireEye", "Trellix", "Sophos", "Zscaler", "SpamTitan", "Hornet ?Security", "Libra ?Esva",
    "Vade ?Secure", "Cloudmark", "Google-Safety", "SafeBrowsing", "LinkScanner", "urlscan",
  ].join("|"),
  "i",
);
const TABLET = /iPad|Tablet|PlayBook|Silk\/|Kindle|Android(?!.*Mobile)/i;
const MOBILE = /Mobi|iPhone|iPod|Android|Windows Phone|BlackBerry|Opera Mini/i;
const DESKTOP = /Windows NT|Macintosh|X11|CrOS|Linux/i;

// User-agents repeat (a few browsers, a few proxies): remember recent answers so the hot path does
// not run isbot's large pattern on every pixel.
const cache = new Map<string, Classified>();

function classifyAgent(ua: string, pixel: boolean): Classified {
  if (!ua) return { uaClass: "bot", machine: true }; // people's clients always send one
  if (MAIL_PROXY.test(ua) || (pixel && APPLE_MPP.test(ua))) return { uaClass: "mail_proxy", machine: true };
  if (LINK_SCANNER.test(ua)) return { uaClass: "link_scanner", machine: true };
  if (isbot(ua)) return { uaClass: "bot", machine: true };
  if (TABLET.test(ua)) return { uaClass: "tablet", machine: false };
  if (MOBILE.test(ua)) return { uaClass: "mobile", machine: false };
  if (DESKTOP.test(ua)) return { uaClass: "desktop", machine: false };
  return { uaClass: "unknown", machine: false };
}

export interface RequestFacts {
  userAgent: string | undefined;
  method: string | undefined;
  /** The open pixel (Apple's prefetch heuristic applies only there). */
  pixel?: boolean;
  /** For a tracked click: when its email was rendered, if known. */
  sentAt?: Date;
  now?: number;
}

/** Clicks this soon after rendering are a gateway scanning the message on delivery, not a reader. */
export const SCANNER_WINDOW_MS = 3_000;

export function classifyRequest(facts: RequestFacts): Classified {
  const ua = (facts.userAgent ?? "").slice(0, 512);
  const key = `${facts.pixel ? 1 : 0}${ua}`;
  let result = cache.get(key);
  if (!result) {
    result = classifyAgent(ua, facts.pixel === true);
    if (cache.size >= 2_000) cache.delete(cache.keys().next().value!);
    cache.set(key, result);
  }
  // Scanners check links with HEAD; people's browsers never do.
  if (facts.method === "HEAD" && !result.machine) return { uaClass: "link_scanner", machine: true };
  if (facts.sentAt && !result.machine && (facts.now ?? Date.now()) - facts.sentAt.getTime() < SCANNER_WINDOW_MS) {
    return { uaClass: "link_scanner", machine: true };
  }
  return result;
}

interface DayHasher {
  day: number;
  key: KeyObject;
  /** This day's hashes of recent addresses: proxies and scanners come back from the same few. */
  recent: Map<string, string>;
}
const hashers = new WeakMap<ReadonlyMap<number, Buffer>, DayHasher>();

/**
 * A hash that groups one day's requests from one address and nothing more: keyed by a secret derived
 * from the current KEK and the UTC day, so hashes from different days (or from outside) never join.
 * The in-memory memo goes with the day's key, and addresses are never written anywhere.
 */
export function hashIp(keks: ReadonlyMap<number, Buffer>, ip: string | undefined, now = Date.now()): string | null {
  if (!ip) return null;
  const day = Math.floor(now / 86_400_000); // the UTC day
  let hasher = hashers.get(keks);
  if (!hasher || hasher.day !== day) {
    const kek = keks.get(currentKekVersion(keks))!;
    const salt = new Date(day * 86_400_000).toISOString().slice(0, 10);
    hasher = { day, key: createSecretKey(Buffer.from(hkdfSync("sha256", kek, salt, "laurel ip hash v1", 32))), recent: new Map() };
    hashers.set(keks, hasher);
  }
  let hash = hasher.recent.get(ip);
  if (!hash) {
    const address = ip.startsWith("::ffff:") ? ip.slice(7) : ip; // IPv4 seen through an IPv6 socket
    hash = createHmac("sha256", hasher.key).update(address).digest().subarray(0, 16).toString("base64url");
    if (hasher.recent.size >= 10_000) hasher.recent.clear();
    hasher.recent.set(ip, hash);
  }
  return hash;
}
