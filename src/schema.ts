// Assembles the GraphQL schema from the modules (imported for their side effects).
import { lexicographicSortSchema, printSchema } from "graphql";
import { builder } from "./builder.js";
import "./modules/common/schema.js";
import "./modules/tenants/schema.js";
import "./modules/members/schema.js";
import "./modules/api-keys/schema.js";
import "./modules/audit/schema.js";
import "./modules/auth/schema.js";
import "./modules/issuers/schema.js";
import "./modules/templates/schema.js";
import "./modules/recipients/schema.js";
import "./modules/credentials/schema.js";
import "./modules/bulk/schema.js";
import "./modules/images/schema.js";
import "./modules/engagement/schema.js";
import "./modules/delivery/schema.js";
import "./modules/webhooks/schema.js";
import "./modules/analytics/schema.js";
import "./modules/privacy/schema.js";
import "./modules/privacy/rectification-schema.js";
import "./modules/privacy/guardian-schema.js";
import "./modules/tenant-export/schema.js";
import "./modules/designs/schema.js";
import "./modules/vault/schema.js";
import "./modules/retention/schema.js";

export const schema = builder.toSchema();

/** The committed schema/schema.graphql is exactly this text. */
export function printedSchema(): string {
  return printSchema(lexicographicSortSchema(schema)) + "\n";
}
