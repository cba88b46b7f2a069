// The tables sql/047 sealed, for the legacy pass and data-key rotation (vault/legacy.ts, rotation.ts):
// each sealed field is `<column>_sealed` with place { table, column, rowId: row[idColumn] }, its plain
// predecessor `legacy_<column>`, and the row's `key_version`. `json` fields hold JSON text.

export interface SealedTable {
  table: string;
  idColumn: string;
  /** Field names without the _sealed suffix. */
  columns: string[];
  /** Those of `columns` sealed as JSON (sealJson/openJson). */
  json: string[];
}

export const DELIVERY_SEALED_TABLES: SealedTable[] = [
  { table: "email_outbox", idColumn: "id", columns: ["to_email", "payload", "subject", "html", "text_body", "content", "last_error"], json: ["payload", "content"] },
  { table: "invitations", idColumn: "id", columns: ["email"], json: [] },
  { table: "guardian_consents", idColumn: "id", columns: ["guardian_email", "guardian_name"], json: [] },
  { table: "privacy_links", idColumn: "id", columns: ["sent_to"], json: [] },
  { table: "data_subject_requests", idColumn: "id", columns: ["subject_email", "requested_changes"], json: ["requested_changes"] },
  { table: "recipient_rectifications", idColumn: "id", columns: ["old_name", "new_name", "old_email", "new_email"], json: [] },
];
