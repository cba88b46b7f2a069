// The tables sql/047 sealed (messages, invitations, guardians, privacy links, requests, rectifications)
// and sql/048 sealed (signed documents), for the legacy pass and data-key rotation (vault/legacy.ts,
// rotation.ts): each sealed field is `<column>_sealed` with place { table, column, rowId: row.id }, its
// plain predecessor `legacy_<column>`, and the row's `key_version`. `json` fields hold JSON text.
import type { SealedTable } from "./registry.js";
import { outboxAddressIndex } from "../delivery/sealed-outbox.js";
import type { TenantKeys } from "./vault.js";
import { normaliseEmail } from "../../lib/email-address.js";
import { rowEmailIndex } from "../bulk/sealed-rows.js";

const emailIndex = (keys: TenantKeys, value: unknown) => {
  if (typeof value !== "string" || !value) return null;
  const checked = normaliseEmail(value);
  return keys.blindIndex("email", checked.ok ? checked.email : value.trim().toLowerCase());
};

export const DELIVERY_SEALED_TABLES: SealedTable[] = [
  {
    table: "email_outbox",
    idColumn: "id",
    columns: ["to_email", "payload", "subject", "html", "text_body", "content", "last_error"],
    json: ["payload", "content"],
    legacyIndexes: (keys, _id, legacy) => ({ to_email_index: outboxAddressIndex(keys, String(legacy.to_email ?? "")) }),
  },
  // Invitations are not sealed from legacy text: their invitee copy needs the secret, which is stored
  // only as a hash; an open legacy invitation expires within days and is read as legacy until then.
  { table: "invitations", idColumn: "id", columns: ["email"], json: [], legacy: false },
  { table: "guardian_consents", idColumn: "id", columns: ["guardian_email", "guardian_name"], json: [] },
  { table: "privacy_links", idColumn: "id", columns: ["sent_to"], json: ["payload"] },
  {
    table: "data_subject_requests",
    idColumn: "id",
    columns: ["subject_email", "requested_changes"],
    json: ["requested_changes"],
    legacyIndexes: (keys, _id, legacy) => ({ subject_email_index: emailIndex(keys, legacy.subject_email) }),
  },
  {
    table: "recipient_rectifications",
    idColumn: "id",
    columns: ["old_name", "new_name", "old_email", "new_email"],
    json: [],
    legacyIndexes: (keys, _id, legacy) => ({ old_email_index: emailIndex(keys, legacy.old_email), new_email_index: emailIndex(keys, legacy.new_email) }),
  },
  { table: "credentials", idColumn: "id", columns: [], json: ["document"] },
  {
    table: "bulk_job_rows",
    idColumn: "id",
    columns: [],
    json: ["input"],
    legacyIndexes: (keys, _id, legacy) => ({ email_index: rowEmailIndex(keys, (legacy.input as { email?: unknown } | null)?.email) }),
  },
  { table: "credential_documents", idColumn: "id", columns: [], json: ["document"] },
];
