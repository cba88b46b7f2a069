// A tenant's issuer identity: its profile and its Ed25519 signing keys (sealed at rest, rotated on
// demand). Keys are made on first use, so a new tenant can issue at once.
import type { Db } from "../../db/tenant-transaction.js";
import { ValidationError } from "../../errors.js";
import { personNameProblem } from "../../lib/text.js";
import { recordAudit } from "../audit/service.js";
import type { Caller } from "../common/caller.js";
import { generateKeyMaterial, type SigningKey } from "../credentials/vc/proofs.js";
import { issuerDid, verificationMethodId } from "./identity.js";
import { currentKekVersion, open, seal } from "./sealing.js";
import type { StatusAllocator } from "../credentials/status-lists.js";
import type { SignPool } from "../credentials/vc/sign-pool.js";

export interface IssuerSettings {
  publicUrl: string;
  keks: ReadonlyMap<number, Buffer>;
  /** Where status-list indexes come from; defaults to the caller's own transaction. */
  allocateStatus?: StatusAllocator;
  /** Signs batches on worker threads (bulk issuance); absent, signing stays on this thread. */
  signPool?: SignPool;
}

/** Additional authenticated data of a sealed signing key: its tenant and id (a copy moved elsewhere fails to open). */
export const aadFor = (tenantId: string, keyId: string) => `signing_keys:${tenantId}:${keyId}`;

export async function getProfile(db: Db, tenantId: string) {
  const profile = await db.issuerProfile.findUnique({ where: { tenantId } });
  if (profile) return profile;
  const tenant = await db.tenant.findUniqueOrThrow({ where: { id: tenantId }, select: { name: true } });
  return { tenantId, name: tenant.name, url: null, email: null, description: null, imageUrl: null, updatedAt: new Date(0) };
}

export interface ProfileInput {
  name: string;
  url?: string | null;
  email?: string | null;
  description?: string | null;
  imageUrl?: string | null;
}

export async function updateProfile(db: Db, caller: Caller, input: ProfileInput) {
  const name = input.name.trim();
  if (!name || name.length > 200) throw ValidationError.field(["input", "name"], "Name must have 1 to 200 characters");
  const nameProblem = personNameProblem(name); // signed as the credential's issuer.name and shown on its pages
  if (nameProblem) throw ValidationError.field(["input", "name"], nameProblem);
  for (const field of ["url", "imageUrl"] as const) {
    const value = input[field];
    if (value && !/^https?:\/\/\S+$/.test(value)) throw ValidationError.field(["input", field], "Must be an http(s) URL");
  }
  if ((input.description?.length ?? 0) > 5000) throw ValidationError.field(["input", "description"], "At most 5,000 characters");
  const data = {
    name,
    url: input.url ?? null,
    email: input.email?.toLowerCase() ?? null,
    description: input.description ?? null,
    imageUrl: input.imageUrl ?? null,
  };
  const profile = await db.issuerProfile.upsert({
    where: { tenantId: caller.tenantId },
    create: { tenantId: caller.tenantId, ...data },
    update: data,
  });
  await recordAudit(db, caller, { action: "issuer.profile_updated", targetType: "IssuerProfile", targetId: caller.tenantId, details: data });
  return profile;
}

async function createKey(db: Db, tenantId: string, keyNumber: number, settings: IssuerSettings) {
  currentKekVersion(settings.keks); // refuse before generating anything when no KEK is configured
  const material = await generateKeyMaterial();
  const id = crypto.randomUUID();
  const { sealed, kekVersion } = seal(settings.keks, material.secretKeyMultibase, aadFor(tenantId, id));
  return db.signingKey.create({
    data: { tenantId, id, keyNumber, publicKeyMultibase: material.publicKeyMultibase, sealedSecretKey: sealed, kekVersion },
  });
}

/** The key that signs now, with its secret opened; made (key 1) if the tenant has none. */
export async function activeSigningKey(db: Db, tenantId: string, settings: IssuerSettings): Promise<SigningKey> {
  const did = issuerDid(settings.publicUrl, tenantId);
  const existing = await db.signingKey.findFirst({ where: { tenantId, retiredAt: null } });
  if (existing) {
    return {
      id: verificationMethodId(did, existing.keyNumber),
      controller: did,
      publicKeyMultibase: existing.publicKeyMultibase,
      secretKeyMultibase: open(settings.keks, existing.sealedSecretKey, existing.kekVersion, aadFor(tenantId, existing.id)),
    };
  }
  // First use: two concurrent issuances may both get here; ON CONFLICT lets one key win.
  currentKekVersion(settings.keks);
  const material = await generateKeyMaterial();
  const id = crypto.randomUUID();
  const { sealed, kekVersion } = seal(settings.keks, material.secretKeyMultibase, aadFor(tenantId, id));
  await db.signingKey.createMany({
    data: [{ tenantId, id, keyNumber: 1, publicKeyMultibase: material.publicKeyMultibase, sealedSecretKey: sealed, kekVersion }],
    skipDuplicates: true,
  });
  const created = await db.signingKey.findFirstOrThrow({ where: { tenantId, retiredAt: null } });
  return {
    id: verificationMethodId(did, created.keyNumber),
    controller: did,
    publicKeyMultibase: created.publicKeyMultibase,
    secretKeyMultibase: open(settings.keks, created.sealedSecretKey, created.kekVersion, aadFor(tenantId, created.id)),
  };
}

/** Retires the active key and makes the next one; the old public key stays published. */
export async function rotateSigningKey(db: Db, caller: Caller, settings: IssuerSettings) {
  const keys = await db.$queryRaw<{ id: string; key_number: number }[]>`
    select id::text, key_number from signing_keys where tenant_id = ${caller.tenantId}::uuid order by key_number desc for update`;
  const next = (keys[0]?.key_number ?? 0) + 1;
  await db.signingKey.updateMany({ where: { tenantId: caller.tenantId, retiredAt: null }, data: { retiredAt: new Date() } });
  const row = await createKey(db, caller.tenantId, next, settings);
  await recordAudit(db, caller, {
    action: "issuer.signing_key_rotated",
    targetType: "SigningKey",
    targetId: row.id,
    details: { keyNumber: next, publicKeyMultibase: row.publicKeyMultibase },
  });
  return row;
}

/** Re-seals every key of the tenant still under an older KEK version under the current one. */
export async function resealSigningKeys(db: Db, tenantId: string, settings: IssuerSettings): Promise<number> {
  const current = currentKekVersion(settings.keks);
  const stale = await db.signingKey.findMany({ where: { tenantId, kekVersion: { not: current } } });
  for (const key of stale) {
    const aad = aadFor(tenantId, key.id);
    const { sealed, kekVersion } = seal(settings.keks, open(settings.keks, key.sealedSecretKey, key.kekVersion, aad), aad);
    await db.signingKey.update({ where: { tenantId_id: { tenantId, id: key.id } }, data: { sealedSecretKey: sealed, kekVersion } });
  }
  return stale.length;
}
