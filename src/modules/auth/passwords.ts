// argon2id through @node-rs/argon2 (prebuilt, no compiler). Parameters are the library's defaults
// (OWASP's second recommended set); a hash carries its own parameters, so they can rise later.
import { hash, verify } from "@node-rs/argon2";

export const MIN_PASSWORD_LENGTH = 10;
// A real hash to verify against when the email is unknown, so timing does not reveal accounts.
let decoy: Promise<string> | undefined;

export async function hashPassword(password: string): Promise<string> {
  return hash(password, { algorithm: 2 });
}

export async function verifyPassword(passwordHash: string | null, password: string): Promise<boolean> {
  if (!passwordHash) {
    decoy ??= hashPassword("laurel-decoy-password");
    await verify(await decoy, password).catch(() => false);
    return false;
  }
  return verify(passwordHash, password).catch(() => false);
}
