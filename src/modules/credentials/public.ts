// Public reads: issuer profile, DID document, credentials as published, signed status lists. They go
// through the anonymous role's definer functions (sql/007); only signing a status list acts as the
// tenant, as the issuer itself would.
import type { Database } from "../../db/database.js";
import { withTenantSql, withTenantTransaction } from "../../db/tenant-transaction.js";
import type { DbRoles } from "../../config.js";
import { didDocument, issuerDid, publishedProfile, type ProfileRow, type PublicKeyRow } from "../issuers/identity.js";
import { activeSigningKey, type IssuerSettings } from "../issuers/service.js";
import { urls } from "./document.js";
import { encodeList } from "./status-lists.js";
import { bakePng, bakeSvg, SvgError } from "./baking.js";
import { badgeDesignPng, badgeDesignSvg, badgeIcon, type BadgeDesignInput } from "./badge-design.js";
import { pngDimensions, RasterError, userSvgToPng } from "../../lib/raster.js";
import { signCredential } from "./vc/proofs.js";
import { createDocumentLoader, VC_V2 } from "./vc/document-loader.js";
import { isChildNow } from "../privacy/processing.js";
import { openDocument } from "./sealed-document.js";
import { sealedVersion } from "../vault/cipher.js";
import { sqlKeyStore } from "../vault/vault.js";

export interface PublicContext {
  database: Database;
  roles: DbRoles;
  settings: IssuerSettings;
}

const anonymous = (p: PublicContext) => ({ dbRole: p.roles.anonymous, tenantId: null, userId: null });

export interface PublicIssuer {
  did: string;
  profile: ProfileRow;
  keys: PublicKeyRow[];
}

export async function loadIssuer(p: PublicContext, tenantId: string): Promise<PublicIssuer | null> {
  const [row] = await withTenantSql(p.database.sql, anonymous(p), (tx) => tx<
    { tenant_name: string; name: string | null; url: string | null; email: string | null; description: string | null; image_url: string | null; keys: { keyNumber: number; publicKeyMultibase: string; retiredAt: string | null }[] }[]
  >`select * from public_issuer(${tenantId}::uuid)`);
  if (!row) return null;
  return {
    did: issuerDid(p.settings.publicUrl, tenantId),
    profile: { name: row.name ?? row.tenant_name, url: row.url, email: row.email, description: row.description, imageUrl: row.image_url },
    keys: row.keys.map((k) => ({ keyNumber: k.keyNumber, publicKeyMultibase: k.publicKeyMultibase, retiredAt: k.retiredAt ? new Date(k.retiredAt) : null })),
  };
}

export async function issuerProfileDocument(p: PublicContext, tenantId: string) {
  const issuer = await loadIssuer(p, tenantId);
  return issuer && publishedProfile(issuer.did, issuer.profile);
}

export async function issuerDidDocument(p: PublicContext, tenantId: string) {
  const issuer = await loadIssuer(p, tenantId);
  return issuer && didDocument(issuer.did, issuer.keys);
}

export interface PublicCredential {
  document: Record<string, unknown>;
  status: "ACTIVE" | "SUSPENDED" | "REVOKED";
  validFrom: Date | null;
  validUntil: Date | null;
  revokedAt: Date | null;
  suspendedAt: Date | null;
  /** The reason given at revocation (published in the OB 2.0 Assertion); null unless revoked. */
  revocationReason: string | null;
  /** The issuing tenant's IANA time zone: calendar dates are shown in it. */
  timeZone: string;
}

export async function loadCredential(p: PublicContext, tenantId: string, credentialId: string): Promise<PublicCredential | null> {
  const state = await publicCredentialState(p, tenantId, credentialId);
  return state === "gone" ? null : state;
}

/** A credential, "gone" when its holder was erased (GDPR Art. 17: its pages answer 410), or null. */
export async function publicCredentialState(p: PublicContext, tenantId: string, credentialId: string): Promise<PublicCredential | "gone" | null> {
  const [row] = await withTenantSql(p.database.sql, anonymous(p), (tx) => tx<
    {
      document_sealed: Uint8Array | null;
      status: PublicCredential["status"];
      valid_from: Date | null;
      valid_until: Date | null;
      revoked_at: Date | null;
      suspended_at: Date | null;
      revocation_reason: string | null;
      time_zone: string;
      erased: boolean;
      legacy: boolean;
    }[]
  >`select * from public_credential(${tenantId}::uuid, ${credentialId}::uuid)`);
  if (!row) return null;
  if (row.erased || (!row.document_sealed && !row.legacy)) return "gone";
  const document = await openPublished(p, tenantId, credentialId, row.document_sealed);
  if (!document) return "gone";
  return {
    document,
    status: row.status,
    validFrom: row.valid_from,
    validUntil: row.valid_until,
    revokedAt: row.revoked_at,
    suspendedAt: row.suspended_at,
    revocationReason: row.revocation_reason,
    timeZone: row.time_zone,
  };
}

/**
 * The published document, opened with the tenant's data key (sql/048): the anonymous role that read
 * the sealed bytes sees no keys, so the keys (cached by the vault) are read as the tenant. A document
 * still in legacy JSON is read the same way.
 */
async function openPublished(p: PublicContext, tenantId: string, credentialId: string, sealed: Uint8Array | null): Promise<Record<string, unknown> | null> {
  const vault = p.database.vault;
  return withTenantSql(p.database.sql, { dbRole: p.roles.member, tenantId, userId: null }, async (tx) => {
    if (sealed) {
      const keys = await vault.keysVia(sqlKeyStore(tx), tenantId, { needVersion: sealedVersion(sealed) });
      return openDocument(keys, "credentials", { id: credentialId, keyVersion: sealedVersion(sealed), documentSealed: sealed });
    }
    const [legacy] = await tx<{ legacy_document: Record<string, unknown> | null }[]>`
      select legacy_document from credentials where tenant_id = ${tenantId}::uuid and id = ${credentialId}::uuid`;
    return legacy?.legacy_document && Object.keys(legacy.legacy_document).length ? legacy.legacy_document : null;
  });
}

/**
 * Whether the credential's holder is a child now: marked, or under 13 by birth date in the tenant's zone
 * (privacy/processing.ts isChildNow). A child's credential is never offered to social networks: its page
 * shows no LinkedIn, X or Facebook buttons and the share endpoint refuses them (Laurel's promise that a
 * child is never shared or retargeted). Read as the tenant, as a status list is signed: the anonymous
 * role sees no recipient. False for an unknown credential.
 */
export async function holderIsChild(p: PublicContext, tenantId: string, credentialId: string): Promise<boolean> {
  const [row] = await withTenantSql(p.database.sql, { dbRole: p.roles.member, tenantId, userId: null }, (tx) => tx<
    { is_child: boolean; birth_date: string | null; time_zone: string }[]
  >`select r.is_child, r.birth_date::text as birth_date, t.time_zone
      from credentials c join recipients r on r.tenant_id = c.tenant_id and r.id = c.recipient_id join tenants t on t.id = c.tenant_id
     where c.tenant_id = ${tenantId}::uuid and c.id = ${credentialId}::uuid`);
  if (!row) return false;
  return isChildNow({ isChild: row.is_child, birthDate: row.birth_date ? new Date(`${row.birth_date}T00:00:00Z`) : null }, row.time_zone);
}

export async function loadStatusBits(p: PublicContext, tenantId: string, listId: string) {
  const [row] = await withTenantSql(p.database.sql, anonymous(p), (tx) => tx<
    { purpose: "revocation" | "suspension"; capacity: number; version: number; set_indexes: number[] }[]
  >`select * from public_status_list(${tenantId}::uuid, ${listId}::uuid)`);
  return row ? { purpose: row.purpose, capacity: row.capacity, version: row.version, setIndexes: row.set_indexes } : null;
}

// Signed lists are cached per (list, version, signing key): a flipped bit moves the version.
const signedLists = new Map<string, Record<string, unknown>>();
const contextsOnly = createDocumentLoader();

export async function statusListCredential(p: PublicContext, tenantId: string, listId: string) {
  const bits = await loadStatusBits(p, tenantId, listId);
  if (!bits) return null;
  return withTenantTransaction(p.database, { dbRole: p.roles.member, tenantId, userId: null }, async (db) => {
    const key = await activeSigningKey(db, tenantId, p.settings);
    const cacheKey = `${tenantId}:${listId}:${bits.version}:${key.id}`;
    const cached = signedLists.get(cacheKey);
    if (cached) return cached;
    const url = urls.statusList(p.settings.publicUrl, tenantId, listId);
    const unsigned = {
      "@context": [VC_V2],
      id: url,
      type: ["VerifiableCredential", "BitstringStatusListCredential"],
      issuer: key.controller,
      validFrom: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
      credentialSubject: { id: `${url}#list`, type: "BitstringStatusList", statusPurpose: bits.purpose, encodedList: encodeList(bits.capacity, bits.setIndexes) },
    };
    const signed = await signCredential(unsigned, key, contextsOnly);
    if (signedLists.size > 1000) signedLists.clear();
    signedLists.set(cacheKey, signed);
    return signed;
  });
}

export async function loadImage(p: PublicContext, tenantId: string, imageId: string) {
  const [row] = await withTenantSql(p.database.sql, anonymous(p), (tx) => tx<{ content_type: string; bytes: Buffer; sha256: string }[]>`
    select * from public_image(${tenantId}::uuid, ${imageId}::uuid)`);
  return row ? { contentType: row.content_type, bytes: Buffer.from(row.bytes), sha256: row.sha256 } : null;
}

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

/** The id of an image this tenant uploaded to us, from its public URL (imageUrl in images/service.ts), or null. */
function ownImageId(p: PublicContext, tenantId: string, url: unknown): string | null {
  const prefix = `${p.settings.publicUrl}/images/${tenantId}/`;
  return typeof url === "string" && url.startsWith(prefix) && new RegExp(`^${UUID}$`).test(url.slice(prefix.length)) ? url.slice(prefix.length) : null;
}

/**
 * What the generated badge of a template shows: its name, the issuer's name, and the issuer's logo as
 * the icon when the logo is an image the tenant uploaded to us (any other URL is never fetched).
 */
export async function generatedBadgeInput(p: PublicContext, tenantId: string, templateId: string, name: string, issuer: { name?: unknown; imageUrl?: unknown }): Promise<BadgeDesignInput> {
  const logoId = ownImageId(p, tenantId, issuer.imageUrl);
  const logo = logoId ? await loadImage(p, tenantId, logoId) : null;
  return { name, issuerName: typeof issuer.name === "string" ? issuer.name : "", tenantId, templateId, icon: logo ? badgeIcon(logo.bytes, logo.contentType) : null };
}

/**
 * The credential baked into its badge image (OB 3.0 §5.3): the template's own image when we store it
 * (an SVG is rasterised for the PNG, a PNG wrapped for the SVG), else the generated design
 * (badge-design.ts) of its achievement.
 */
export async function bakedBadge(p: PublicContext, tenantId: string, credentialId: string, format: "png" | "svg") {
  const credential = await loadCredential(p, tenantId, credentialId);
  if (!credential) return null;
  const vc = credential.document as Record<string, any>;
  const json = JSON.stringify(vc);
  const achievement = vc.credentialSubject?.achievement ?? {};
  const imageId = ownImageId(p, tenantId, achievement.image?.id);
  const image = imageId ? await loadImage(p, tenantId, imageId) : null;
  const generated = async () => {
    const templateId = new RegExp(`/achievements/(${UUID})/v\\d+$`).exec(String(achievement.id ?? ""))?.[1] ?? credentialId;
    const issuer = vc.issuer ?? {};
    return generatedBadgeInput(p, tenantId, templateId, String(achievement.name ?? vc.name ?? ""), { name: issuer.name, imageUrl: issuer.image?.id ?? issuer.image });
  };
  if (format === "png") {
    const base = image && uploadedAsPng(image) || badgeDesignPng(await generated());
    return { contentType: "image/png", body: bakePng(base, json) };
  }
  const base = image?.contentType === "image/svg+xml" ? image.bytes.toString("utf8") : (image && pngAsSvg(image.bytes)) || badgeDesignSvg(await generated());
  let baked: string;
  try {
    baked = bakeSvg(base, json);
  } catch (error) {
    if (!(error instanceof SvgError)) throw error;
    baked = bakeSvg(badgeDesignSvg(await generated()), json); // an SVG stored before uploads were parsed, which XML cannot read
  }
  return { contentType: "image/svg+xml", body: Buffer.from(baked, "utf8") };
}

/** An uploaded badge image as a PNG: itself, or an SVG rasterised at 512 pixels wide; null if it cannot be. */
function uploadedAsPng(image: { contentType: string; bytes: Buffer }): Buffer | null {
  if (image.contentType === "image/png") return image.bytes;
  try {
    return userSvgToPng(image.bytes.toString("utf8"), { width: 512 });
  } catch (error) {
    if (error instanceof RasterError) return null;
    throw error;
  }
}

/** An uploaded PNG as an SVG showing it at its own size (so badge.svg shows what badge.png does), or null. */
function pngAsSvg(png: Buffer): string | null {
  const size = pngDimensions(png);
  if (!size) return null;
  const { width, height } = size;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"><image width="${width}" height="${height}" href="data:image/png;base64,${png.toString("base64")}"/></svg>`;
}
