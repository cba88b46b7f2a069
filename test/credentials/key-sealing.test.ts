// Signing keys at rest: sealed under a versioned key-encryption key, bound to their row, re-sealable
// under a new KEK without changing the signing key itself.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrisma, type PrismaOverPool } from "../../src/db/database.js";
import { withTenantTransaction } from "../../src/db/tenant-transaction.js";
import { activeSigningKey, resealSigningKeys } from "../../src/modules/issuers/service.js";
import { MissingKekError, open, seal } from "../../src/modules/issuers/sealing.js";
import { parseKeks } from "../../src/config.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { TEST_ROLES } from "../helpers/env.js";

let db: TestDatabase;
let database: PrismaOverPool;
let tenantId: string;
const kek1 = `1:${randomBytes(32).toString("base64")}`;
const kek2 = `2:${randomBytes(32).toString("base64")}`;

beforeAll(async () => {
  db = await createTestDatabase();
  database = createPrisma(db.loginUrl, 2);
  const [row] = await db.admin`select tenant_id from sign_up('keys@example.test', 'K', 'x', 'Key Org', 'key-org')`;
  tenantId = row!.tenant_id;
});
afterAll(async () => {
  await database.prisma.$disconnect();
  await database.pool.end();
  await db.drop();
});

const inTenant = <T>(work: Parameters<typeof withTenantTransaction<T>>[2]) =>
  withTenantTransaction(database, { dbRole: TEST_ROLES.member, tenantId, userId: null }, work);

describe("sealing", () => {
  it("binds a sealed secret to its row: it does not open under another row's identity or a wrong key", () => {
    const keks = parseKeks(kek1);
    const { sealed, kekVersion } = seal(keks, "z-secret", "signing_keys:t1:k1");
    expect(open(keks, sealed, kekVersion, "signing_keys:t1:k1")).toBe("z-secret");
    expect(() => open(keks, sealed, kekVersion, "signing_keys:t2:k1")).toThrow();
    expect(() => open(parseKeks(`1:${randomBytes(32).toString("base64")}`), sealed, kekVersion, "signing_keys:t1:k1")).toThrow();
    expect(() => open(keks, sealed, 7, "signing_keys:t1:k1")).toThrow(MissingKekError);
  });

  it("refuses to create a signing key when no key-encryption key is configured", async () => {
    await expect(inTenant((tx) => activeSigningKey(tx, tenantId, { publicUrl: "http://x", keks: new Map() }))).rejects.toThrow(MissingKekError);
  });

  it("re-seals every key under a new KEK, and the same signing key comes out", async () => {
    const before = await inTenant((tx) => activeSigningKey(tx, tenantId, { publicUrl: "http://x", keks: parseKeks(kek1) }));
    const both = parseKeks(`${kek2},${kek1}`);
    expect(await inTenant((tx) => resealSigningKeys(tx, tenantId, { publicUrl: "http://x", keks: both }))).toBe(1);
    const [row] = await db.admin`select kek_version from signing_keys where tenant_id = ${tenantId}`;
    expect(row!.kek_version).toBe(2);
    const after = await inTenant((tx) => activeSigningKey(tx, tenantId, { publicUrl: "http://x", keks: parseKeks(kek2) }));
    expect(after.secretKeyMultibase).toBe(before.secretKeyMultibase);
    await expect(inTenant((tx) => activeSigningKey(tx, tenantId, { publicUrl: "http://x", keks: parseKeks(kek1) }))).rejects.toThrow(MissingKekError);
  });
});
