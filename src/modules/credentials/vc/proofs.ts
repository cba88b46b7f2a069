// Data Integrity proofs (eddsa-rdfc-2022) with the digitalbazaar libraries: Ed25519 Multikey pairs,
// signing a credential, verifying one. The OB 3.0 schema wants `proof` as an array, so signed
// credentials carry their single proof in one; verification accepts either form.
import { createPrivateKey, sign } from "node:crypto";
import * as vc from "@digitalbazaar/vc";
import * as Ed25519Multikey from "@digitalbazaar/ed25519-multikey";
import { DataIntegrityProof } from "@digitalbazaar/data-integrity";
import { cryptosuite as eddsaRdfc2022 } from "@digitalbazaar/eddsa-rdfc-2022-cryptosuite";
import type { DocumentLoader } from "./document-loader.js";
import { canonizeFast } from "./fast-canonize.js";

/** eddsa-rdfc-2022 with the shape-cached canonicalization (see fast-canonize.ts) for signing. */
const fastEddsaRdfc2022 = {
  ...(eddsaRdfc2022 as Record<string, unknown>),
  canonize: (input: object, options: { documentLoader: DocumentLoader }) => canonizeFast(input, options.documentLoader),
};

export interface KeyMaterial {
  publicKeyMultibase: string;
  secretKeyMultibase: string;
}

export interface SigningKey extends KeyMaterial {
  /** The verification method id, e.g. did:web:...#key-1 */
  id: string;
  controller: string;
}

export async function generateKeyMaterial(): Promise<KeyMaterial> {
  const pair = await Ed25519Multikey.generate();
  const exported = await pair.export({ publicKey: true, secretKey: true });
  return { publicKeyMultibase: exported.publicKeyMultibase!, secretKeyMultibase: exported.secretKeyMultibase! };
}

// Parsing a key costs far more than a signature, and the library's signer builds a KeyObject for every
// signature: keep one Node KeyObject per verification method and sign with it directly.
const signers = new Map<string, Promise<unknown>>();
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

async function signerFor(key: SigningKey): Promise<unknown> {
  const cacheKey = `${key.id}\u0000${key.publicKeyMultibase}`;
  let signer = signers.get(cacheKey);
  if (!signer) {
    signer = Ed25519Multikey.from({
      type: "Multikey",
      id: key.id,
      controller: key.controller,
      publicKeyMultibase: key.publicKeyMultibase,
      secretKeyMultibase: key.secretKeyMultibase,
    }).then((pair) => {
      const seed = (pair as unknown as { secretKey: Uint8Array }).secretKey.subarray(0, 32);
      const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: "der", type: "pkcs8" });
      return { id: key.id, algorithm: "Ed25519", sign: async ({ data }: { data: Uint8Array }) => new Uint8Array(sign(null, data, privateKey)) };
    });
    signers.set(cacheKey, signer);
    if (signers.size > 10_000) signers.delete(signers.keys().next().value!);
  }
  return signer;
}

export async function signCredential(
  credential: Record<string, unknown>,
  key: SigningKey,
  documentLoader: DocumentLoader,
  created?: Date,
): Promise<Record<string, unknown>> {
  const suite = new DataIntegrityProof({ signer: await signerFor(key), cryptosuite: fastEddsaRdfc2022, date: created });
  const signed = await vc.issue({ credential, suite, documentLoader });
  const proof = signed.proof;
  return { ...signed, proof: Array.isArray(proof) ? proof : [proof] };
}

export interface ProofCheck {
  verified: boolean;
  errors: string[];
}

/**
 * Checks the proof alone. Status and validity dates are the caller's to check and report separately,
 * so the library is told "now" is the credential's validFrom and that status is not its concern.
 */
export async function verifyProof(credential: Record<string, unknown>, documentLoader: DocumentLoader): Promise<ProofCheck> {
  const suite = new DataIntegrityProof({ cryptosuite: eddsaRdfc2022 });
  const validFrom = typeof credential.validFrom === "string" ? new Date(credential.validFrom) : undefined;
  const result = await vc.verifyCredential({
    credential,
    suite,
    documentLoader,
    checkStatus: async () => ({ verified: true }),
    ...(validFrom && !Number.isNaN(validFrom.getTime()) ? { now: validFrom } : {}),
  });
  if (result.verified) return { verified: true, errors: [] };
  const errors = (result.error?.errors ?? (result.error ? [result.error] : [])).map((e) => (e as Error).message ?? String(e));
  const nested = (result.results ?? []).flatMap((r) => {
    const err = (r as { error?: { message?: string; errors?: Error[] } }).error;
    return err ? [err.message ?? "", ...(err.errors ?? []).map((e) => e.message)] : [];
  });
  return { verified: false, errors: [...new Set([...errors, ...nested].filter(Boolean))] };
}
