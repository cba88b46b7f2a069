// The short verification address printed on certificates: `<publicUrl>/v/<code>`, where the code is the
// tenant's and the credential's UUIDs (16 bytes each) in base64url, 43 characters. Both ids are in the
// code, so the redirect needs no lookup table and no migration; the code reveals nothing the long
// address does not already show, and 256 bits are not guessable.
import { urls } from "./document.js";
import { publicCredentialState, type PublicContext } from "./public.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** 32 bytes in base64url without padding (RFC 4648 §5). */
export const SHORT_CODE_LENGTH = 43;

const uuidBytes = (uuid: string) => Buffer.from(uuid.replaceAll("-", ""), "hex");
const uuidOf = (bytes: Buffer) => {
  const h = bytes.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

/**
 * The code of a credential: base64url (RFC 4648 §5, no padding) of tenantId's 16 bytes then
 * credentialId's, always 43 characters of [A-Za-z0-9_-].
 * @throws TypeError when either id is not a UUID written 8-4-4-4-12 hex.
 */
export function shortCredentialCode(tenantId: string, credentialId: string): string {
  if (!UUID.test(tenantId) || !UUID.test(credentialId)) throw new TypeError("tenantId and credentialId must be UUIDs");
  return Buffer.concat([uuidBytes(tenantId), uuidBytes(credentialId)]).toString("base64url");
}

/**
 * The short address of a credential's public page: `${publicUrl}/v/${code}` (about 50 characters past the
 * host, against ~100 for /issuers/<tenant>/credentials/<id>). GET on it answers 302 to that page.
 * @throws TypeError when either id is not a UUID.
 */
export function shortCredentialUrl(publicUrl: string, tenantId: string, credentialId: string): string {
  return `${publicUrl}/v/${shortCredentialCode(tenantId, credentialId)}`;
}

/**
 * The [tenantId, credentialId] a code names (lower-case UUIDs), or null when it is not exactly the
 * canonical encoding of 32 bytes: wrong length, a character outside base64url, padding, or unused low
 * bits set in the last character (so each credential has one code, never several that decode alike).
 */
export function parseShortCode(code: string): [string, string] | null {
  if (code.length !== SHORT_CODE_LENGTH || !/^[A-Za-z0-9_-]+$/.test(code)) return null;
  const bytes = Buffer.from(code, "base64url");
  if (bytes.length !== 32 || bytes.toString("base64url") !== code) return null;
  return [uuidOf(bytes.subarray(0, 16)), uuidOf(bytes.subarray(16))];
}

/**
 * Where GET /v/<code> redirects: the credential's public page (credentials/document.ts urls.credential),
 * looked up as the anonymous role like every public read. Null, answered as any unknown credential (404),
 * when the code is garbled or names no published credential. An erased holder's credential still
 * redirects, and its page answers 410 as it does for the long address.
 */
export async function shortLinkTarget(p: PublicContext, code: string): Promise<string | null> {
  const ids = parseShortCode(code);
  if (!ids || !(await publicCredentialState(p, ids[0], ids[1]))) return null;
  return urls.credential(p.settings.publicUrl, ids[0], ids[1]);
}
