// Ciphertext does not compress: every sealed column is stored EXTERNAL (sql/052), so PostgreSQL never
// spends a pglz attempt on a signed credential or an email body it cannot shrink. A sealed column
// added later without it fails here.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.drop());

describe("sealed columns' storage", () => {
  it("is EXTERNAL (out of line, never compressed) for every bytea column named *_sealed", async () => {
    const columns = await db.admin<{ column: string; storage: string }[]>`
      select c.relname || '.' || a.attname as column, a.attstorage as storage
        from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = 'public' and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
         and a.atttypid = 'bytea'::regtype and a.attname like '%\\_sealed'
       order by 1`;
    const names = columns.map((c) => c.column);
    expect(names).toEqual(expect.arrayContaining(["credentials.document_sealed", "email_outbox.content_sealed", "email_outbox.html_sealed", "recipients.email_sealed"]));
    expect(columns.filter((c) => c.storage !== "e")).toEqual([]);
  });
});
