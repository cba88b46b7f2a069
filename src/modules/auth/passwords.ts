// argon2id through @node-rs/argon2 (prebuilt, no compiler). Parameters are the library's defaults
// (OWASP's second recommended set); a stored hash is a PHC string carrying its own parameters, so they
// can rise later. The database never hands a stored hash out (sql/017): to check a password, the
// server asks for the salt and parameters of the email's hash, derives the raw hash here, and the
// database compares it in the same call that opens the session.
import { hash, hashRaw } from "@node-rs/argon2";

export const MIN_PASSWORD_LENGTH = 10;

/** What login_parameters() answers: everything but the hash itself (RFC 9106 terms). */
export interface Argon2Parameters {
  algorithm: string;
  version: number;
  /** Memory in KiB (m). */
  memoryCost: number;
  /** Passes (t). */
  timeCost: number;
  /** Lanes (p). */
  parallelism: number;
  salt: Uint8Array;
  /** Bytes of the raw hash. */
  outputLength: number;
}

// @node-rs/argon2's const enums, by value (isolated modules cannot inline them).
const ALGORITHMS: Record<string, 0 | 1 | 2> = { argon2d: 0, argon2i: 1, argon2id: 2 };
const VERSIONS: Record<number, 0 | 1> = { 16: 0, 19: 1 };

/** A new password's hash as stored: argon2id, PHC string format. */
export async function hashPassword(password: string): Promise<string> {
  return hash(password, { algorithm: 2 });
}

/**
 * The raw argon2 hash of `password` under stored parameters, for log_in() to compare. Parameters
 * outside what this server would ever have written (up to 1 GiB, 64 passes, 16 lanes) are refused
 * with null rather than computed: a doctored row must not make the server burn its memory.
 */
export async function deriveHash(password: string, p: Argon2Parameters): Promise<Buffer | null> {
  const algorithm = ALGORITHMS[p.algorithm];
  const version = VERSIONS[p.version];
  const sane =
    algorithm !== undefined && version !== undefined && p.memoryCost >= 8 && p.memoryCost <= 1_048_576 && p.timeCost >= 1 &&
    p.timeCost <= 64 && p.parallelism >= 1 && p.parallelism <= 16 && p.salt.length >= 8 && p.outputLength >= 16 && p.outputLength <= 64;
  if (!sane) return null;
  return hashRaw(password, {
    algorithm,
    version,
    memoryCost: p.memoryCost,
    timeCost: p.timeCost,
    parallelism: p.parallelism,
    outputLen: p.outputLength,
    salt: p.salt,
  });
}
