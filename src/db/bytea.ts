// Many byte strings as one binary parameter. node-postgres sends a Buffer parameter in binary format,
// but a bytea[] parameter as text: every byte as two hex digits inside an escaped array literal, which
// the server then parses back. Bulk writes of sealed columns (a signed credential, an email's fixed
// content: kilobytes per row) spent more time on that than on the encryption. Packed, the bytes go once,
// as they are, and SQL cuts each value out again:
//   substring($n::bytea from u.at for u.len)   with u.at, u.len from unnest($m::int[], $k::int[])
// A null value has a null start and length, and substring gives null.

/** A packed column: `bytes` as one parameter, each value's 1-based start and length (null for null). */
export interface PackedBytea {
  bytes: Buffer;
  starts: (number | null)[];
  lengths: (number | null)[];
}

/**
 * Packs `values` (in row order; null stays null) into one Buffer.
 * @throws RangeError when the total exceeds PostgreSQL's 1 GB limit for one value.
 */
export function packBytea(values: readonly (Uint8Array | null | undefined)[]): PackedBytea {
  let total = 0;
  for (const v of values) total += v?.byteLength ?? 0;
  if (total >= 1 << 30) throw new RangeError(`packBytea: ${total} bytes exceed one bytea's 1 GB limit`);
  const bytes = Buffer.allocUnsafe(total);
  const starts: (number | null)[] = [];
  const lengths: (number | null)[] = [];
  let at = 0;
  for (const v of values) {
    if (v === null || v === undefined) {
      starts.push(null);
      lengths.push(null);
      continue;
    }
    bytes.set(v, at);
    starts.push(at + 1);
    lengths.push(v.byteLength);
    at += v.byteLength;
  }
  return { bytes, starts, lengths };
}

/** One column's place in a shared Buffer. */
export type PackedColumn = Omit<PackedBytea, "bytes">;

/** Several columns packed into one Buffer: `columns[c]` holds column c's starts and lengths. */
export function packByteaColumns(columns: readonly (readonly (Uint8Array | null | undefined)[])[]): { bytes: Buffer; columns: PackedColumn[] } {
  const packed = packBytea(columns.flat());
  let from = 0;
  return {
    bytes: packed.bytes,
    columns: columns.map((values) => {
      const to = from + values.length;
      const column = { starts: packed.starts.slice(from, to), lengths: packed.lengths.slice(from, to) };
      from = to;
      return column;
    }),
  };
}
