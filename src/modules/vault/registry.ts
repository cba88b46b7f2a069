// Every table that holds sealed fields, for the machinery that must visit them all: data-key rotation
// (rotation.ts) re-seals their rows, the legacy pass (legacy.ts) seals rows written before sealing.
// Each domain that seals a table lists it in its own src/modules/vault/registry-<domain>.ts and adds
// its array to SEALED_TABLES below (one import, one spread); nothing else here changes.
import type { TenantKeys } from "./vault.js";
import { sealRecipient } from "../recipients/personal.js";
import { normaliseEmail } from "../../lib/email-address.js";
import { DELIVERY_SEALED_TABLES } from "./registry-delivery.js";

/**
 * A table with sealed fields. Its rows have `tenant_id`, `<idColumn>` (the rowId bound into each
 * field's place), `key_version` (the data-key version of all the row's sealed fields, NULL while the row
 * is legacy plain text) and, per field `x`, `x_sealed bytea` (and, for the legacy pass, `legacy_x`).
 */
export interface SealedTable {
  table: string;
  idColumn: "id";
  /** Sealed fields holding text, by name without `_sealed` (the place's column). */
  columns: readonly string[];
  /** Sealed fields holding JSON (sealJson); their legacy_x is json/jsonb. May repeat names in columns. */
  json: readonly string[];
  /**
   * Extra columns the legacy pass writes beside the sealed fields, from the row's legacy values (keyed
   * by field name, JSON already parsed): blind indexes above all. Values go to postgres.js as they are.
   */
  legacyIndexes?: (keys: TenantKeys, rowId: string, legacy: Record<string, unknown>) => Record<string, unknown>;
  /** false: the legacy pass leaves this table's plain rows alone (they cannot be sealed from what is stored). */
  legacy?: false;
}

/** Every sealed field of a table, text and JSON alike (rotation does not care which). */
export function sealedFields(entry: SealedTable): string[] {
  return [...new Set([...entry.columns, ...entry.json])];
}

export const RECIPIENT_TABLES: SealedTable[] = [
  {
    table: "recipients",
    idColumn: "id",
    columns: ["email", "name"],
    json: ["attributes"],
    // The same indexes a new recipient gets (recipients/personal.ts), so lookups find legacy rows once sealed.
    legacyIndexes: (keys, rowId, legacy) => {
      const raw = String(legacy.email ?? "");
      const checked = normaliseEmail(raw);
      const sealed = sealRecipient(keys, rowId, { email: checked.ok ? checked.email : raw, name: (legacy.name as string | null) ?? null, attributes: {} });
      const extra: Record<string, unknown> = { email_index: sealed.emailIndex, name_words: sealed.nameWords };
      // attributes_sealed may not be null (sql/044): a legacy row without attributes had none.
      if (legacy.attributes === null || legacy.attributes === undefined) extra.attributes_sealed = keys.sealJson({ table: "recipients", column: "attributes", rowId }, {});
      return extra;
    },
  },
];

/** All sealed tables, in the order the rotation visits them. */
export const SEALED_TABLES: readonly SealedTable[] = [...RECIPIENT_TABLES, ...DELIVERY_SEALED_TABLES];
