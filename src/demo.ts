// The embedded demo's first start: one tenant, its owner and an API key, made through the same
// services a real sign-up uses.
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { chmod, copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { embeddedLayout, parseKeks } from "./config.js";
import path from "node:path";
import type { App } from "./context.js";
import { withTenantTransaction } from "./db/tenant-transaction.js";
import { EmailTakenError, signUp } from "./modules/auth/service.js";
import { createApiKey } from "./modules/api-keys/service.js";
import { ROLE_PERMISSIONS } from "./modules/auth/permissions.js";

/** The embedded demo's key-encryption key, made once and kept (mode 600) in its data folder. */
export async function demoKeks(config: App["config"]) {
  const layout = embeddedLayout(config.dataDir);
  const file = path.join(layout.root, "demo-kek.txt");
  await mkdir(layout.root, { recursive: true });
  if (layout.legacy) await adoptLegacyKeyFiles(layout.root);
  let line = await readFile(file, "utf8").catch(() => null);
  if (!line) {
    line = `1:${randomBytes(32).toString("base64")}`;
    await writeFile(file, line + "\n", { mode: 0o600, flag: "wx" });
  }
  return parseKeks(line.trim());
}

export function demoKeyFile(config: App["config"]): string {
  return path.join(embeddedLayout(config.dataDir).root, "demo-api-key.txt");
}

/**
 * LAUREL_DATA_DIR once named the database folder itself, and the key files went into its parent. Such a
 * folder keeps its database; its key files are copied inside (copied, not moved: the parent may hold
 * other folders' database keys too) unless it has its own already.
 */
async function adoptLegacyKeyFiles(root: string): Promise<void> {
  for (const name of ["demo-kek.txt", "demo-api-key.txt"]) {
    const target = path.join(root, name);
    const copied = await copyFile(path.join(path.dirname(root), name), target, constants.COPYFILE_EXCL).then(
      () => true,
      (error: NodeJS.ErrnoException) => {
        if (error.code !== "ENOENT" && error.code !== "EEXIST") throw error;
        return false;
      },
    );
    if (copied) await chmod(target, 0o600);
  }
}

export async function seedDemo(app: App) {
  const password = randomBytes(9).toString("base64url");
  const email = "demo@laurel.local";
  const roles = app.config.roles;
  const grant = await withTenantTransaction(app.database, { dbRole: roles.anonymous, tenantId: null, userId: null }, (db) =>
    signUp(db, { email, password, name: "Demo Owner", organizationName: "Demo University", organizationSlug: "demo" }, { ttlHours: 1, userAgent: "seed" }),
  ).catch((error: unknown) => {
    // Seeded on an earlier start (the database tells no one whether an account exists otherwise).
    if (error instanceof EmailTakenError) return null;
    throw error;
  });
  if (!grant) return null;
  const { secret } = await withTenantTransaction(app.database, { dbRole: roles.member, tenantId: grant.tenantId, userId: grant.userId }, (db) =>
    createApiKey(
      db,
      { tenantId: grant.tenantId!, actor: { kind: "user", id: grant.userId }, permissions: ROLE_PERMISSIONS.owner, requestId: "seed" },
      { name: "Demo key", scopes: ["read", "issue", "analytics", "export", "admin", "privacy"] },
    ),
  );
  const keyFile = demoKeyFile(app.config);
  await writeFile(keyFile, `${secret}\n`, { mode: 0o600 });
  return { tenantName: "Demo University", email, password, apiKey: secret, keyFile };
}
