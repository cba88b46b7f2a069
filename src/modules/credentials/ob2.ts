// Open Badges 2.0 hosted verification, for consumers that read only 2.0: the Assertion (one per
// credential), its BadgeClass (one per template version) and the Issuer, each at a stable URL and
// linked to the others. The recipient is the same salted hash the 3.0 credential carries.
import type { PublicContext, PublicCredential } from "./public.js";
import { generatedBadgeInput, loadIssuer } from "./public.js";
import { withTenantSql } from "../../db/tenant-transaction.js";
import { achievementJson, alignmentFields, urls, type AchievementContent, type AlignmentData } from "./document.js";
import { badgeDesignPng } from "./badge-design.js";

const OB2 = "https://w3id.org/openbadges/v2";

export const ob2Urls = {
  issuer: (publicUrl: string, tenantId: string) => `${publicUrl}/issuers/${tenantId}/ob2`,
  badgeClass: (achievementUrl: string) => `${achievementUrl}/ob2`,
  assertion: (credentialUrl: string) => `${credentialUrl}/ob2`,
};

export interface AchievementRow extends AchievementContent {
  alignments: AlignmentData[];
}

export async function loadAchievement(p: PublicContext, tenantId: string, templateId: string, version: number): Promise<AchievementRow | null> {
  const [row] = await withTenantSql(p.database.sql, { dbRole: p.roles.anonymous, tenantId: null, userId: null }, (tx) => tx<
    { kind: AchievementRow["kind"]; name: string; description: string; criteria_narrative: string | null; criteria_url: string | null; image_url: string | null; tags: string[]; alignments: AchievementRow["alignments"] }[]
  >`select * from public_achievement(${tenantId}::uuid, ${templateId}::uuid, ${version})`);
  return row
    ? { kind: row.kind, name: row.name, description: row.description, criteriaNarrative: row.criteria_narrative, criteriaUrl: row.criteria_url, imageUrl: row.image_url, tags: row.tags, alignments: row.alignments }
    : null;
}

/** The address part of a From header ("Laurel <credentials@laurel.example>" → "credentials@laurel.example"). */
export function addressOf(from: string): string {
  return (/<([^<>\s]+@[^<>\s]+)>/.exec(from)?.[1] ?? from).trim();
}

/**
 * The OB 2.0 Issuer (OB 2.0 §Profile), which 1EdTech's validator requires to have an email: the issuer
 * profile's email, else the platform's sender address (`platformFrom`, LAUREL_EMAIL_FROM). Nothing
 * else of the tenant's is published for it: a reply-to may be a person's mailbox.
 */
export async function ob2Issuer(p: PublicContext, tenantId: string, platformFrom: string) {
  const issuer = await loadIssuer(p, tenantId);
  if (!issuer) return null;
  const { profile } = issuer;
  return {
    "@context": OB2,
    type: "Issuer",
    id: ob2Urls.issuer(p.settings.publicUrl, tenantId),
    name: profile.name,
    url: profile.url ?? `${p.settings.publicUrl}/issuers/${tenantId}`,
    email: profile.email ?? addressOf(platformFrom),
    ...(profile.description ? { description: profile.description } : {}),
    ...(profile.imageUrl ? { image: profile.imageUrl } : {}),
  };
}

export function ob3Achievement(p: PublicContext, tenantId: string, templateId: string, version: number, a: AchievementRow) {
  return {
    "@context": ["https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],
    ...achievementJson(urls.achievement(p.settings.publicUrl, tenantId, templateId, version), a),
  };
}

/**
 * The OB 2.0 BadgeClass of a template version. Without an image of its own, its image is the generated
 * badge (badge-design.ts) as a 256-pixel PNG data URI: the design badge.png shows, unbaked.
 */
export async function ob2BadgeClass(p: PublicContext, tenantId: string, templateId: string, version: number, a: AchievementRow) {
  const achievementUrl = urls.achievement(p.settings.publicUrl, tenantId, templateId, version);
  const generated = async () => {
    const profile = (await loadIssuer(p, tenantId))?.profile;
    return badgeDesignPng(await generatedBadgeInput(p, tenantId, templateId, a.name, { name: profile?.name, imageUrl: profile?.imageUrl }), 256);
  };
  return {
    "@context": OB2,
    type: "BadgeClass",
    id: ob2Urls.badgeClass(achievementUrl),
    name: a.name,
    description: a.description,
    image: a.imageUrl ?? `data:image/png;base64,${(await generated()).toString("base64")}`,
    criteria: { ...(a.criteriaUrl ? { id: a.criteriaUrl } : {}), ...(a.criteriaNarrative ? { narrative: a.criteriaNarrative } : {}) },
    issuer: ob2Urls.issuer(p.settings.publicUrl, tenantId),
    ...(a.tags.length ? { tags: a.tags } : {}),
    ...(a.alignments.length ? { alignment: a.alignments.map(alignmentFields) } : {}),
  };
}

/** The hosted OB 2.0 Assertion of a credential; a revoked one carries the reason given at revocation. */
export function ob2Assertion(credential: PublicCredential) {
  const vc = credential.document as Record<string, any>;
  const identity = vc.credentialSubject?.identifier?.[0] ?? {};
  const achievementUrl = String(vc.credentialSubject?.achievement?.id ?? "");
  return {
    "@context": OB2,
    type: "Assertion",
    id: ob2Urls.assertion(String(vc.id)),
    recipient: { type: "email", hashed: true, salt: identity.salt, identity: identity.identityHash },
    badge: ob2Urls.badgeClass(achievementUrl),
    verification: { type: "hosted" },
    issuedOn: vc.validFrom,
    ...(vc.validUntil ? { expires: vc.validUntil } : {}),
    ...(vc.evidence ? { evidence: vc.evidence.map((e: Record<string, unknown>) => ({ ...(e.id ? { id: e.id } : {}), ...(e.narrative ? { narrative: e.narrative } : {}), ...(e.name ? { name: e.name } : {}), ...(e.description ? { description: e.description } : {}) })) } : {}),
    ...(credential.status === "REVOKED" ? { revoked: true, ...(credential.revocationReason ? { revocationReason: credential.revocationReason } : {}) } : {}),
  };
}
