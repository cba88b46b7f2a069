// Blind indexes: keyed HMACs that let the database answer "which recipient has this email?" without
// holding the email. Equality only, by design: the same input under the same tenant's index key gives
// the same 32 bytes, and without the key nothing about the input can be tested. Each kind of value has
// its own label, so an email's index never equals a name word's.
import { createHmac, type KeyObject } from "node:crypto";

export type IndexKind = "email" | "name-word" | "external-id";

/** HMAC-SHA-256(index key, kind ‖ 0 ‖ value): 32 bytes. The value must already be normalised by the caller. */
export function blindIndex(indexKey: KeyObject, kind: IndexKind, value: string): Buffer {
  return createHmac("sha256", indexKey).update(kind).update("\0").update(value, "utf8").digest();
}

/**
 * The words of a name as searched: NFKC, lower-cased (locale-independent), split on anything that is
 * not a letter, mark or digit, each at least two characters, at most 16 distinct words. "Zoë O'Brien-Smith"
 * → ["zoë", "o", "brien", "smith"] minus the one-letter "o".
 */
export function nameWords(name: string): string[] {
  const words = name.normalize("NFKC").toLowerCase().split(/[^\p{L}\p{M}\p{N}]+/u).filter((w) => [...w].length >= 2);
  return [...new Set(words)].slice(0, 16);
}
