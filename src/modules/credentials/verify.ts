// Verifies a credential anyone hands us and says why: JSON schema, proof, status, validity dates,
// issuer. Keys resolve offline only: our own issuers' DIDs from the database, did:key from the key
// itself; any other issuer is reported as "cannot resolve", never fetched.
import { checkAchievementCredentialSchema } from "./vc/schema-check.js";
import { CannotResolveError, createDocumentLoader, type DocumentResolver } from "./vc/document-loader.js";
import { verifyProof } from "./vc/proofs.js";
import { tenantOfDid, didDocument, MULTIKEY_V1, DID_V1 } from "../issuers/identity.js";
import { isSet, encodeList } from "./status-lists.js";
import { loadCredential, loadIssuer, loadStatusBits, type PublicContext } from "./public.js";

export interface Check {
  ok: boolean;
  message: string;
}

export interface VerificationReport {
  verified: boolean;
  credentialId: string | null;
  issuer: Check & { id: string | null; name: string | null };
  schema: Check & { errors: string[] };
  proof: Check & { errors: string[] };
  status: Check & { state: "active" | "revoked" | "suspended" | "unknown" | "none" };
  validity: Check & { validFrom: string | null; validUntil: string | null; expired: boolean };
}

function didKeyDocument(did: string) {
  const key = did.slice("did:key:".length);
  if (!/^z6Mk[1-9A-HJ-NP-Za-km-z]+$/.test(key)) return null;
  const id = `${did}#${key}`;
  return {
    "@context": [DID_V1, MULTIKEY_V1],
    id: did,
    verificationMethod: [{ id, type: "Multikey", controller: did, publicKeyMultibase: key }],
    assertionMethod: [id],
  };
}

export function issuerResolvers(p: PublicContext): DocumentResolver[] {
  return [
    async (url) => {
      const tenantId = tenantOfDid(p.settings.publicUrl, url);
      if (!tenantId) return null;
      const issuer = await loadIssuer(p, tenantId);
      return issuer && didDocument(issuer.did, issuer.keys);
    },
    (url) => (url.startsWith("did:key:") ? didKeyDocument(url) : null),
  ];
}

const statusUrlPattern = (publicUrl: string) =>
  new RegExp(`^${publicUrl.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/issuers/([0-9a-f-]{36})/status/([0-9a-f-]{36})$`);

export async function verifyCredential(p: PublicContext, credential: unknown, now = new Date()): Promise<VerificationReport> {
  const doc = (credential && typeof credential === "object" ? credential : {}) as Record<string, any>;
  const issuerId: string | null = typeof doc.issuer === "string" ? doc.issuer : (doc.issuer?.id ?? null);
  const schema = checkAchievementCredentialSchema(doc);

  let proof: VerificationReport["proof"];
  try {
    const result = await verifyProof(doc, createDocumentLoader(...issuerResolvers(p)));
    const unresolved = result.errors.find((e) => /cannot resolve/.test(e));
    proof = result.verified
      ? { ok: true, message: "The signature is valid", errors: [] }
      : { ok: false, message: unresolved ?? "The signature does not match the credential", errors: result.errors };
  } catch (error) {
    const message = error instanceof CannotResolveError ? error.message : `Could not check the proof: ${(error as Error).message}`;
    proof = { ok: false, message, errors: [message] };
  }

  const validFrom = typeof doc.validFrom === "string" ? doc.validFrom : null;
  const validUntil = typeof doc.validUntil === "string" ? doc.validUntil : null;
  const expired = Boolean(validUntil && Date.parse(validUntil) <= now.getTime());
  const notYet = Boolean(validFrom && Date.parse(validFrom) > now.getTime());
  const validity = {
    ok: !expired && !notYet,
    message: expired ? `Expired on ${validUntil}` : notYet ? `Not valid before ${validFrom}` : "Within its validity period",
    validFrom,
    validUntil,
    expired,
  };

  let status: VerificationReport["status"] = { ok: true, state: "none", message: "The credential declares no status list" };
  const entry = doc.credentialStatus;
  if (entry) {
    const match = typeof entry.statusListCredential === "string" ? statusUrlPattern(p.settings.publicUrl).exec(entry.statusListCredential) : null;
    if (!match) {
      status = { ok: false, state: "unknown", message: `cannot resolve ${entry.statusListCredential} offline` };
    } else {
      const bits = await loadStatusBits(p, match[1]!, match[2]!);
      const index = Number(entry.statusListIndex);
      if (!bits || !Number.isInteger(index)) status = { ok: false, state: "unknown", message: "Status list entry not found" };
      else {
        const revoked = isSet(encodeList(bits.capacity, bits.setIndexes), index);
        status = revoked ? { ok: false, state: "revoked", message: "The issuer has revoked this credential" } : { ok: true, state: "active", message: "Not revoked" };
        if (revoked && (await isSuperseded(p, match[1]!, doc.id, entry))) {
          status = { ok: false, state: "revoked", message: `Superseded: the issuer re-issued this credential with the holder's corrected details (GDPR Art. 16); the current document is at ${doc.id}` };
        }
        if (!revoked && bits.purpose === "revocation") {
          // Suspension is published in a second list (OB 3.0's schema allows one credentialStatus entry).
          const suspended = await isSuspended(p, match[1]!, doc.id);
          if (suspended) status = { ok: false, state: "suspended", message: "The issuer has suspended this credential" };
        }
      }
    }
  }

  let issuer: VerificationReport["issuer"] = { ok: false, id: issuerId, name: doc.issuer?.name ?? null, message: "No issuer" };
  if (issuerId) {
    const tenantId = tenantOfDid(p.settings.publicUrl, issuerId);
    if (tenantId) {
      const known = await loadIssuer(p, tenantId);
      issuer = known
        ? { ok: true, id: issuerId, name: known.profile.name, message: `Issued by ${known.profile.name} on Laurel` }
        : { ok: false, id: issuerId, name: null, message: "Unknown issuer" };
    } else {
      issuer = { ok: proof.ok, id: issuerId, name: doc.issuer?.name ?? null, message: proof.ok ? "Issuer key resolved offline" : `cannot resolve ${issuerId} offline` };
    }
  }

  return {
    verified: schema.valid && proof.ok && status.ok && validity.ok && issuer.ok,
    credentialId: typeof doc.id === "string" ? doc.id : null,
    issuer,
    schema: { ok: schema.valid, message: schema.valid ? "Valid OB 3.0 AchievementCredential" : "Does not match the OB 3.0 schema", errors: schema.errors },
    proof,
    status,
    validity,
  };
}

async function isSuspended(p: PublicContext, tenantId: string, credentialUrl: unknown): Promise<boolean> {
  const id = typeof credentialUrl === "string" ? /\/credentials\/([0-9a-f-]{36})$/.exec(credentialUrl)?.[1] : undefined;
  if (!id) return false;
  const credential = await loadCredential(p, tenantId, id);
  return credential?.status === "SUSPENDED";
}

/**
 * A revoked entry is a superseded document's (privacy/rectification.ts) when the credential it names
 * is published with another, not revoked, status entry: same id, newer document.
 */
async function isSuperseded(p: PublicContext, tenantId: string, credentialUrl: unknown, entry: Record<string, unknown>): Promise<boolean> {
  const id = typeof credentialUrl === "string" ? /\/credentials\/([0-9a-f-]{36})$/.exec(credentialUrl)?.[1] : undefined;
  if (!id) return false;
  const current = await loadCredential(p, tenantId, id);
  const now = current?.document.credentialStatus as Record<string, unknown> | undefined;
  return Boolean(current && current.status !== "REVOKED" && now && (now.statusListCredential !== entry.statusListCredential || now.statusListIndex !== entry.statusListIndex));
}
