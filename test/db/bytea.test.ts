// db/bytea.ts: values packed into one binary parameter come back out of PostgreSQL byte for byte, in
// order, with nulls and empty values kept apart, through node-postgres as the bulk writes use it.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packBytea, packByteaColumns } from "../../src/db/bytea.js";
import { adminUrlFor, testServerUrl } from "../helpers/env.js";

let client: pg.Client;
beforeAll(async () => {
  client = new pg.Client({ connectionString: adminUrlFor(testServerUrl(), "postgres") });
  await client.connect();
});
afterAll(() => client.end());

const unpack = async (bytes: Buffer, starts: (number | null)[], lengths: (number | null)[]) =>
  (
    await client.query<{ value: Buffer | null }>(
      `select substring($1::bytea from u.at for u.len) as value
         from unnest($2::int[], $3::int[]) with ordinality as u(at, len, n) order by u.n`,
      [bytes, starts, lengths],
    )
  ).rows.map((r) => r.value);

describe("packBytea", () => {
  it("round-trips nulls, empty values, every byte value and kilobyte values in order", async () => {
    const everyByte = Uint8Array.from({ length: 256 }, (_, i) => i);
    const values = [randomBytes(5000), null, new Uint8Array(0), everyByte, undefined, Buffer.from("\\x00\\\\'\"{},"), randomBytes(1)];
    const packed = packBytea(values);
    expect(packed.bytes.length).toBe(values.reduce((n, v) => n + (v?.byteLength ?? 0), 0));
    const back = await unpack(packed.bytes, packed.starts, packed.lengths);
    expect(back).toHaveLength(values.length);
    back.forEach((got, n) => {
      const want = values[n];
      if (want === null || want === undefined) expect(got).toBeNull();
      else expect(Buffer.compare(got!, Buffer.from(want))).toBe(0);
    });
  });

  it("keeps a value's bytes when it is a view into a larger buffer", async () => {
    const big = randomBytes(64);
    const view = big.subarray(10, 20);
    const packed = packBytea([view]);
    const [got] = await unpack(packed.bytes, packed.starts, packed.lengths);
    expect(Buffer.compare(got!, Buffer.from(view))).toBe(0);
  });

  it("packs several columns into one buffer, each with its own starts and lengths", async () => {
    const a = [randomBytes(3), null, randomBytes(7)];
    const b = [null, randomBytes(2), randomBytes(4000)];
    const packed = packByteaColumns([a, b]);
    expect(packed.columns.map((c) => c.starts.length)).toEqual([3, 3]);
    for (const [n, column] of [a, b].entries()) {
      const back = await unpack(packed.bytes, packed.columns[n]!.starts, packed.columns[n]!.lengths);
      back.forEach((got, i) => (column[i] ? expect(Buffer.compare(got!, column[i]!)).toBe(0) : expect(got).toBeNull()));
    }
  });
});
