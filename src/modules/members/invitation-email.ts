// An invitation's address, sealed twice (sql/047): under the tenant's data key for staff, and under a
// key derived from the invitation's secret for the invitee, who accepts before belonging to the tenant
// and so cannot use its keys. accept_invitation() checks the address the app opened against
// email_check = sha256("laurel invitation email" ‖ 0 ‖ secret ‖ email), computed by the database from
// the secret it is given, so the holder of one invitation cannot name another address.
import { createHash, createHmac, createSecretKey, type KeyObject } from "node:crypto";
import { openWith, sealWith } from "../vault/cipher.js";
import type { TenantKeys } from "../vault/vault.js";

const place = (rowId: string) => ({ table: "invitations", column: "email", rowId });

/** The invitee's key: HMAC-SHA-256(secret, label). 32 bytes; the secret is 32 random bytes. */
function inviteeKey(secret: Uint8Array): KeyObject {
  return createSecretKey(createHmac("sha256", secret).update("laurel invitation email key").digest());
}

/** The columns a new invitation stores for its (normalised) address. */
export function sealInvitationEmail(keys: TenantKeys, id: string, secret: Uint8Array, email: string) {
  return {
    keyVersion: keys.current,
    emailSealed: keys.seal(place(id), email),
    // Version 0 and tenant "invitee": a secret-derived key, not one of the tenant's data keys.
    inviteeEmailSealed: sealWith(inviteeKey(secret), 0, email, { ...place(id), tenantId: "invitee" }),
    emailCheck: new Uint8Array(createHash("sha256").update("laurel invitation email").update(Buffer.from([0])).update(secret).update(email, "utf8").digest()),
  };
}

/** Opens what invitation_invitee_email() returns, with the token's secret. @throws SealedFieldError */
export function openInviteeEmail(secret: Uint8Array, id: string, sealed: Uint8Array): string {
  return openWith(inviteeKey(secret), sealed, { ...place(id), tenantId: "invitee" });
}

/** Opens the staff copy of an invitation's address (legacy rows: their plain column). */
export function openInvitationEmail(keys: TenantKeys, row: { id: string; keyVersion: number | null; emailSealed: Uint8Array | null; legacyEmail: string | null }): string {
  return row.keyVersion === null ? row.legacyEmail ?? "" : keys.open(place(row.id), row.emailSealed!);
}
