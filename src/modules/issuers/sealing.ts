// Secrets at rest (signing keys' private halves): AES-256-GCM under a versioned key-encryption key.
// The row's identity is the additional authenticated data, so a sealed key copied to another row or
// tenant fails to open. Layout: 12-byte IV ‖ 16-byte tag ‖ ciphertext.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { GraphQLError } from "graphql";

/** A deployment problem, not the caller's: reported with its own code rather than masked. */
export class MissingKekError extends GraphQLError {
  constructor(version?: number) {
    super(
      version === undefined
        ? "No key-encryption key is configured (LAUREL_KEKS): Laurel will not store signing keys unencrypted"
        : `Key-encryption key version ${version} is not configured (LAUREL_KEKS)`,
      { extensions: { code: "SERVER_MISCONFIGURED" } },
    );
    this.name = "MissingKekError";
  }
}

export function currentKekVersion(keks: ReadonlyMap<number, Buffer>): number {
  if (keks.size === 0) throw new MissingKekError();
  return Math.max(...keks.keys());
}

export function seal(keks: ReadonlyMap<number, Buffer>, plaintext: string, aad: string): { sealed: Uint8Array<ArrayBuffer>; kekVersion: number } {
  const kekVersion = currentKekVersion(keks);
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", keks.get(kekVersion)!, iv);
  cipher.setAAD(Buffer.from(aad));
  const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return { sealed: new Uint8Array(Buffer.concat([iv, cipher.getAuthTag(), ciphertext])), kekVersion };
}

export function open(keks: ReadonlyMap<number, Buffer>, sealed: Uint8Array, kekVersion: number, aad: string): string {
  const kek = keks.get(kekVersion);
  if (!kek) throw new MissingKekError(kekVersion);
  const bytes = Buffer.from(sealed);
  const decipher = createDecipheriv("aes-256-gcm", kek, bytes.subarray(0, 12));
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(bytes.subarray(12, 28));
  return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString("utf8");
}
