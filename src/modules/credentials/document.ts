// Builds the unsigned OB 3.0 OpenBadgeCredential (W3C VC 2.0). The recipient's email appears only as a
// salted sha256; their name, when known, as a plain-text IdentityObject of type "name" so that pages and
// certificates can name them from the signed document alone. The achievement is the same in every
// credential of a template version; only the credential's own description is rendered per recipient
// (the template's credentialDescription, merge fields filled).
import { createHash, randomBytes } from "node:crypto";
import { OB_V3, VC_V2 } from "./vc/document-loader.js";
import { issuerProfile, type ProfileRow } from "../issuers/identity.js";
import { RECIPIENT_NAME, renderMergeText } from "../templates/merge-fields.js";
import { documentTime } from "../../lib/calendar.js";

/** What a template version says about its achievement: what credentials and public pages show. */
export interface AchievementContent {
  kind: "BADGE" | "CERTIFICATE";
  name: string;
  description: string;
  criteriaNarrative: string | null;
  criteriaUrl: string | null;
  imageUrl: string | null;
  tags: string[];
  alignments: unknown;
}

export interface AchievementSource extends AchievementContent {
  templateId: string;
  version: number;
  /** Per-recipient text (merge fields) for the credential's own description; absent: none. */
  credentialDescription?: string | null;
}

export interface EvidenceInput {
  id?: string | null;
  name?: string | null;
  description?: string | null;
  narrative?: string | null;
}

export interface CredentialSource {
  credentialId: string;
  tenantId: string;
  publicUrl: string;
  did: string;
  profile: ProfileRow;
  achievement: AchievementSource;
  recipientEmail: string;
  recipientName: string | null;
  fieldValues: Record<string, string>;
  validFrom: Date;
  validUntil: Date | null;
  evidence: EvidenceInput[];
  revocation: { listId: string; index: number };
}

export interface AlignmentData {
  targetName: string;
  targetUrl: string;
  targetDescription?: string | null;
  targetFramework?: string | null;
  targetCode?: string | null;
}

/** An alignment's fields as both OB 3.0 and OB 2.0 write them (optional ones only when set). */
export function alignmentFields(al: AlignmentData) {
  return {
    targetName: al.targetName,
    targetUrl: al.targetUrl,
    ...(al.targetDescription ? { targetDescription: al.targetDescription } : {}),
    ...(al.targetFramework ? { targetFramework: al.targetFramework } : {}),
    ...(al.targetCode ? { targetCode: al.targetCode } : {}),
  };
}

export const urls = {
  credential: (publicUrl: string, tenantId: string, id: string) => `${publicUrl}/issuers/${tenantId}/credentials/${id}`,
  achievement: (publicUrl: string, tenantId: string, templateId: string, version: number) =>
    `${publicUrl}/issuers/${tenantId}/achievements/${templateId}/v${version}`,
  statusList: (publicUrl: string, tenantId: string, listId: string) => `${publicUrl}/issuers/${tenantId}/status/${listId}`,
};

export function identityHash(email: string, salt: string): string {
  return "sha256$" + createHash("sha256").update(email.trim().toLowerCase() + salt).digest("hex");
}

/**
 * The recipient's name as the signed credential states it: the plain-text IdentityObject of
 * identityType "name" in credentialSubject.identifier (OB 3.0 §B.1.10 IdentityObject), or null.
 */
export function recipientNameOf(document: Record<string, unknown>): string | null {
  const subject = (document.credentialSubject ?? {}) as { identifier?: unknown };
  const identifiers = Array.isArray(subject.identifier) ? (subject.identifier as Record<string, unknown>[]) : [];
  const named = identifiers.find((i) => i && i.identityType === "name" && i.hashed === false && typeof i.identityHash === "string");
  return named ? (named.identityHash as string) : null;
}

/** The OB 3.0 Achievement object, as embedded in credentials and published at its own URL. */
export function achievementJson(id: string, a: AchievementContent) {
  const alignments = (a.alignments as AlignmentData[] | null) ?? [];
  return {
    id,
    type: ["Achievement"],
    achievementType: a.kind === "BADGE" ? "Badge" : "Certificate",
    name: a.name,
    description: a.description,
    criteria: { ...(a.criteriaUrl ? { id: a.criteriaUrl } : {}), ...(a.criteriaNarrative ? { narrative: a.criteriaNarrative } : {}) },
    ...(a.imageUrl ? { image: { id: a.imageUrl, type: "Image" } } : {}),
    ...(a.tags.length ? { tag: a.tags } : {}),
    ...(alignments.length ? { alignment: alignments.map((al) => ({ type: ["Alignment"], ...alignmentFields(al) })) } : {}),
  };
}

export function buildCredential(s: CredentialSource): Record<string, unknown> {
  const a = s.achievement;
  const salt = randomBytes(16).toString("hex");
  const description = a.credentialDescription ? renderMergeText(a.credentialDescription, { ...s.fieldValues, [RECIPIENT_NAME]: s.recipientName ?? "" }) : "";
  return {
    "@context": [VC_V2, OB_V3],
    id: urls.credential(s.publicUrl, s.tenantId, s.credentialId),
    type: ["VerifiableCredential", "OpenBadgeCredential"],
    issuer: issuerProfile(s.did, s.profile),
    validFrom: documentTime(s.validFrom),
    ...(s.validUntil ? { validUntil: documentTime(s.validUntil) } : {}),
    name: a.name,
    ...(description ? { description } : {}),
    credentialSubject: {
      type: ["AchievementSubject"],
      identifier: subjectIdentifiers(s.recipientEmail, s.recipientName, salt),
      achievement: {
        ...achievementJson(urls.achievement(s.publicUrl, s.tenantId, a.templateId, a.version), a),
        creator: issuerProfile(s.did, s.profile),
      },
    },
    ...(s.evidence.length
      ? {
          evidence: s.evidence.map((e) => ({
            ...(e.id ? { id: e.id } : {}),
            type: ["Evidence"],
            ...(e.name ? { name: e.name } : {}),
            ...(e.description ? { description: e.description } : {}),
            ...(e.narrative ? { narrative: e.narrative } : {}),
          })),
        }
      : {}),
    credentialStatus: revocationEntry(s.publicUrl, s.tenantId, s.revocation),
  };
}

/**
 * The recipient as credentialSubject.identifier states them (OB 3.0 IdentityObject): their email as a
 * salted sha256 (identityType emailAddress), and their name in plain text (identityType name) when known.
 */
export function subjectIdentifiers(email: string, name: string | null, salt = randomBytes(16).toString("hex")) {
  return [
    { type: "IdentityObject", identityHash: identityHash(email, salt), identityType: "emailAddress", hashed: true, salt },
    ...(name ? [{ type: "IdentityObject", identityHash: name, identityType: "name", hashed: false }] : []),
  ];
}

/** The one credentialStatus entry: a W3C BitstringStatusListEntry of purpose revocation at `slot`. */
export function revocationEntry(publicUrl: string, tenantId: string, slot: { listId: string; index: number }) {
  const statusUrl = urls.statusList(publicUrl, tenantId, slot.listId);
  return {
    id: `${statusUrl}#${slot.index}`,
    type: "BitstringStatusListEntry",
    statusPurpose: "revocation",
    statusListIndex: String(slot.index),
    statusListCredential: statusUrl,
  };
}

export interface Correction {
  recipientEmail: string;
  recipientName: string | null;
  /** The template version's per-recipient description (merge fields), to render again with the new name. */
  credentialDescription: string | null;
  fieldValues: Record<string, string>;
  revocation: { listId: string; index: number };
  publicUrl: string;
  tenantId: string;
}

/**
 * The unsigned re-issue of a signed document after its holder's details were corrected (GDPR Art. 16):
 * the same document with only what names the holder replaced (credentialSubject.identifier, with a
 * fresh salt; the description when the template merges the name into it), a fresh revocation entry,
 * and no proof. Everything else (id, issuer as it was stated, achievement, validFrom, validUntil,
 * evidence) stays exactly as first signed: a correction of the holder changes no other claim.
 */
export function correctedDocument(signed: Record<string, unknown>, c: Correction): Record<string, unknown> {
  const { proof: _proof, ...rest } = signed;
  const subject = { ...(signed.credentialSubject as Record<string, unknown>), identifier: subjectIdentifiers(c.recipientEmail, c.recipientName) };
  const description = c.credentialDescription ? renderMergeText(c.credentialDescription, { ...c.fieldValues, [RECIPIENT_NAME]: c.recipientName ?? "" }) : "";
  const { description: _old, ...withoutDescription } = rest;
  return {
    ...withoutDescription,
    ...(c.credentialDescription ? (description ? { description } : {}) : "description" in rest ? { description: rest.description } : {}),
    credentialSubject: subject,
    credentialStatus: revocationEntry(c.publicUrl, c.tenantId, c.revocation),
  };
}
