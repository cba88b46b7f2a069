// The backup key pair: age X25519 (age-encryption, Filippo Valsorda's TypeScript implementation of
// age v1). Servers hold only the public key (a recipient); the secret key (an identity) is needed to
// restore and should live somewhere else. Identity files are the same as `age-keygen` writes, so the
// age command line can read what Laurel wrote and the other way round.
import { readFile } from "node:fs/promises";
import path from "node:path";
import * as age from "age-encryption";
import { BackupError } from "./format.js";

export interface KeyPair {
  identity: string;
  recipient: string;
}

/** A new X25519 pair: `AGE-SECRET-KEY-1...` and its `age1...` public key. */
export async function generateKeyPair(): Promise<KeyPair> {
  const identity = await age.generateX25519Identity();
  return { identity, recipient: await age.identityToRecipient(identity) };
}

/** An identity file as age-keygen writes it (comments, then the key); written with mode 0600. */
export function identityFileText(pair: KeyPair, at = new Date()): string {
  return `# created: ${at.toISOString()}\n# public key: ${pair.recipient}\n${pair.identity}\n`;
}

/**
 * The secret keys LAUREL_BACKUP_IDENTITY stands for: the key itself (`AGE-SECRET-KEY-1...`), or the
 * path of an identity file (one key a line, `#` comments; relative to baseDir). Throws BackupError when
 * it names nothing usable.
 */
export async function loadIdentities(value: string | undefined, baseDir = process.cwd()): Promise<string[]> {
  if (!value) throw new BackupError("LAUREL_BACKUP_IDENTITY is not set: a restore needs the backup's secret key (AGE-SECRET-KEY-1...) or its identity file");
  let text = value;
  if (!value.trim().startsWith("AGE-SECRET-KEY-")) {
    try {
      text = await readFile(path.resolve(baseDir, value), "utf8");
    } catch (error) {
      throw new BackupError(`LAUREL_BACKUP_IDENTITY: cannot read ${value}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  const keys = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  const bad = keys.find((k) => !k.startsWith("AGE-SECRET-KEY-"));
  if (!keys.length || bad) throw new BackupError("LAUREL_BACKUP_IDENTITY holds no age secret key (lines starting AGE-SECRET-KEY-)");
  return keys;
}
