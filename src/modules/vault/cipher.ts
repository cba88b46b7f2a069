// Field sealing: AES-256-GCM under one of a tenant's data keys, with the field's place (table, column,
// tenant, row) as additional authenticated data, so a sealed value copied to another column, row or
// tenant fails to open instead of showing someone else's data. Layout of a sealed field:
//   1 byte format (1) ‖ 4 bytes data-key version (big-endian) ‖ 12-byte IV ‖ 16-byte tag ‖ ciphertext.
// The version travels with the value so a reader knows which key opens it while a rotation is under way.
import { createCipheriv, createDecipheriv, randomBytes, type KeyObject } from "node:crypto";

const FORMAT = 1;
const HEADER = 1 + 4;
const IV = 12;
const TAG = 16;

/** Where a sealed field lives: bound into its authentication tag. */
export interface FieldPlace {
  table: string;
  column: string;
  tenantId: string;
  /** The row's id (its primary key within the tenant). */
  rowId: string;
}

/** A sealed value that does not open: wrong place, tampered, truncated, or sealed by another deployment. */
export class SealedFieldError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SealedFieldError";
  }
}

export function placeAad(place: FieldPlace): Buffer {
  return Buffer.from(`laurel field v1|${place.table}.${place.column}|${place.tenantId}|${place.rowId}`, "utf8");
}

// IVs come from the CSPRNG a few hundred at a time: one random 96-bit IV per value, as NIST SP 800-38D
// §8.2.2 allows, without a system call per field (bulk issuance seals a dozen fields per credential).
let ivPool = Buffer.alloc(0);
let ivAt = 0;
function nextIv(): Buffer {
  if (ivAt + IV > ivPool.length) {
    ivPool = randomBytes(IV * 512);
    ivAt = 0;
  }
  const iv = ivPool.subarray(ivAt, ivAt + IV);
  ivAt += IV;
  return iv;
}

/**
 * Seals UTF-8 text under `key` (a 32-byte secret KeyObject: a raw Buffer costs a KeyObject per call,
 * measured as most of bulk issuance's sealing time) of data-key `version`. Returns the bytes to store (bytea).
 */
export function sealWith(key: KeyObject, version: number, plaintext: string, place: FieldPlace): Uint8Array<ArrayBuffer> {
  const iv = nextIv();
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(placeAad(place));
  // GCM's ciphertext is as long as the plaintext: the value is laid out once, without a zero fill, in a
  // buffer of its own (not the shared pool: callers may hand .buffer on).
  const body = cipher.update(plaintext, "utf8");
  const tail = cipher.final();
  const out = Buffer.allocUnsafeSlow(HEADER + IV + TAG + body.length + tail.length);
  out[0] = FORMAT;
  out.writeUInt32BE(version, 1);
  out.set(iv, HEADER);
  out.set(cipher.getAuthTag(), HEADER + IV);
  out.set(body, HEADER + IV + TAG);
  if (tail.length) out.set(tail, HEADER + IV + TAG + body.length);
  return out as Uint8Array<ArrayBuffer>;
}

/** The data-key version a sealed value names in its header. @throws SealedFieldError when it is not one. */
export function sealedVersion(sealed: Uint8Array): number {
  if (sealed.length < HEADER + IV + TAG || sealed[0] !== FORMAT) throw new SealedFieldError("Not a sealed field (format or length)");
  return new DataView(sealed.buffer, sealed.byteOffset, sealed.byteLength).getUint32(1);
}

/** Opens what sealWith produced, given the key its header names. @throws SealedFieldError */
export function openWith(key: KeyObject, sealed: Uint8Array, place: FieldPlace): string {
  const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, bytes.subarray(HEADER, HEADER + IV));
    decipher.setAAD(placeAad(place));
    decipher.setAuthTag(bytes.subarray(HEADER + IV, HEADER + IV + TAG));
    return Buffer.concat([decipher.update(bytes.subarray(HEADER + IV + TAG)), decipher.final()]).toString("utf8");
  } catch {
    throw new SealedFieldError(`A sealed ${place.table}.${place.column} did not open for its row: moved, tampered with, or sealed elsewhere`);
  }
}
