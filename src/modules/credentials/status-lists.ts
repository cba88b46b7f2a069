// W3C Bitstring Status Lists. Each credential takes one index in its tenant's open revocation list and
// one in its suspension list; a full list (131,072 entries) is followed by a new one. The published
// list is GZIP'd bits in multibase base64url, built from the credentials' states on demand.
import { gzipSync, gunzipSync } from "node:zlib";
import type { Db } from "../../db/tenant-transaction.js";
import type { StatusPurpose } from "../../generated/prisma/enums.js";
import type { Database } from "../../db/database.js";
import { withTenantSql } from "../../db/tenant-transaction.js";

export interface StatusSlot {
  listId: string;
  index: number;
}

const slots = (row: { list_id: string; start_index: number }, count: number): StatusSlot[] =>
  Array.from({ length: count }, (_, i) => ({ listId: row.list_id, index: row.start_index + i }));

/** Takes `count` consecutive indexes from the tenant's open list for `purpose`, in the caller's transaction. */
export async function allocateStatusSlots(db: Db, tenantId: string, purpose: StatusPurpose, count = 1): Promise<StatusSlot[]> {
  const [row] = await db.$queryRaw<{ list_id: string; start_index: number }[]>`
    select list_id::text, start_index from allocate_status_slots(${tenantId}::uuid, ${purpose}::status_purpose, ${count}::int)`;
  return slots(row!, count);
}

export type StatusAllocator = (tenantId: string, purpose: StatusPurpose, count: number) => Promise<StatusSlot[]>;

/**
 * Allocation in its own short transaction, so issuers do not queue on the list row until their
 * issuance commits. An issuance that then rolls back leaves its index unused: a bit that stays 0,
 * never a duplicate. It runs on postgres.js, never on the pool the issuing transaction holds a
 * connection of: borrowing a second connection there deadlocks once every connection is held by an
 * issuer waiting for one more (seen with the embedded database's pool of one).
 */
export function autonomousAllocator(database: Database, memberRole: string): StatusAllocator {
  return (tenantId, purpose, count) =>
    withTenantSql(database.sql, { dbRole: memberRole, tenantId, userId: null }, async (tx) => {
      const [row] = await tx<{ list_id: string; start_index: number }[]>`
        select list_id, start_index from allocate_status_slots(${tenantId}, ${purpose}, ${count})`;
      return slots(row!, count);
    });
}

/** The allocator a service uses: the configured one, else allocation in its own transaction `db`. */
export function allocatorFor(db: Db, configured: StatusAllocator | undefined): StatusAllocator {
  return configured ?? ((tenantId, purpose, count) => allocateStatusSlots(db, tenantId, purpose, count));
}

/**
 * A second, short transaction for status-list indexes, except on the embedded database: PGlite is
 * one session underneath, so a second transaction would wait for the first, which waits for it.
 */
export function statusAllocatorFor(app: { database: Database; config: { roles: { member: string } } }): StatusAllocator | undefined {
  return app.database.embedded ? undefined : autonomousAllocator(app.database, app.config.roles.member);
}

export async function bumpListVersion(db: Db, tenantId: string, listId: string): Promise<void> {
  await db.statusList.update({ where: { tenantId_id: { tenantId, id: listId } }, data: { version: { increment: 1 } } });
}

export function encodeList(capacity: number, setIndexes: Iterable<number>): string {
  const bits = Buffer.alloc(Math.ceil(capacity / 8));
  // Bit 0 is the most significant bit of the first byte (Bitstring Status List §4.2).
  for (const i of setIndexes) bits[i >> 3]! |= 0x80 >> (i & 7);
  return "u" + gzipSync(bits).toString("base64url");
}

export function isSet(encodedList: string, index: number): boolean {
  if (!encodedList.startsWith("u")) throw new Error("encodedList must be multibase base64url (u...)");
  const bits = gunzipSync(Buffer.from(encodedList.slice(1), "base64url"));
  if (index < 0 || index >= bits.length * 8) throw new Error(`status index ${index} is outside the list`);
  return (bits[index >> 3]! & (0x80 >> (index & 7))) !== 0;
}
