// How a tenant appears as an issuer: its did:web DID, the DID document listing every signing key it
// ever had (old credentials keep verifying after rotation), and its OB 3.0 Profile.
import { VC_V2 } from "../credentials/vc/document-loader.js";

export const DID_V1 = "https://www.w3.org/ns/did/v1";
export const MULTIKEY_V1 = "https://w3id.org/security/multikey/v1";

/** did:web for a tenant: resolves to <publicUrl>/issuers/<tenantId>/did.json. */
export function issuerDid(publicUrl: string, tenantId: string): string {
  const url = new URL(publicUrl);
  const host = encodeURIComponent(url.host); // a port becomes %3A, as did:web requires
  const path = url.pathname.split("/").filter(Boolean).map(encodeURIComponent);
  return ["did:web", host, ...path, "issuers", tenantId].join(":");
}

/** The tenant id a DID of ours names, or null for any other DID. */
export function tenantOfDid(publicUrl: string, did: string): string | null {
  const prefix = issuerDid(publicUrl, "").replace(/:$/, ":");
  if (!did.startsWith(prefix)) return null;
  const id = did.slice(prefix.length);
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id) ? id : null;
}

export function verificationMethodId(did: string, keyNumber: number): string {
  return `${did}#key-${keyNumber}`;
}

export interface PublicKeyRow {
  keyNumber: number;
  publicKeyMultibase: string;
  retiredAt: Date | null;
}

export function didDocument(did: string, keys: PublicKeyRow[]) {
  const methods = keys.map((k) => ({
    id: verificationMethodId(did, k.keyNumber),
    type: "Multikey",
    controller: did,
    publicKeyMultibase: k.publicKeyMultibase,
  }));
  return {
    "@context": [DID_V1, MULTIKEY_V1],
    id: did,
    verificationMethod: methods,
    // Retired keys stay listed: they no longer sign, but what they signed must keep verifying.
    assertionMethod: methods.map((m) => m.id),
  };
}

export interface ProfileRow {
  name: string;
  url: string | null;
  email: string | null;
  description: string | null;
  imageUrl: string | null;
}

/** The OB 3.0 Profile embedded as a credential's issuer and published at the issuer URL. */
export function issuerProfile(did: string, profile: ProfileRow) {
  return {
    id: did,
    type: ["Profile"],
    name: profile.name,
    ...(profile.url ? { url: profile.url } : {}),
    ...(profile.email ? { email: profile.email } : {}),
    ...(profile.description ? { description: profile.description } : {}),
    ...(profile.imageUrl ? { image: { id: profile.imageUrl, type: "Image" } } : {}),
  };
}

export function publishedProfile(did: string, profile: ProfileRow) {
  return { "@context": [VC_V2, "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"], ...issuerProfile(did, profile) };
}
