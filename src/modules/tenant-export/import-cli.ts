// `npm run tenant:import -- <export.zip>`: restores a tenant's export (exportTenant) into this Laurel's
// database (DATABASE_URL, the admin connection migrations use; LAUREL_KEKS must hold the key-encryption
// key versions the export's signing keys are sealed under). Checks the whole ZIP first; writes all or nothing.
import path from "node:path";
import { loadConfig, StartupError } from "../../config.js";
import { importTenant, TenantImportError } from "./import.js";

// npm runs scripts in the package's folder; a relative path means the folder the operator typed it in.
const zipPath = process.argv[2] ? path.resolve(process.env.INIT_CWD ?? process.cwd(), process.argv[2]) : undefined;
try {
  if (!zipPath) throw new StartupError("usage: npm run tenant:import -- <tenant-export.zip>");
  const config = loadConfig();
  if (!config.databaseUrl) throw new StartupError("DATABASE_URL (the admin connection) is required to import a tenant");
  if (config.keks.size === 0) throw new StartupError("LAUREL_KEKS is required: signing keys are re-sealed under this deployment's current key-encryption key");
  const result = await importTenant({ adminUrl: config.databaseUrl, roles: config.roles, keks: config.keks, zipPath, log: (l) => console.log(l) });
  const rows = result.tables.reduce((n, t) => n + t.rows, 0);
  console.log(`Imported tenant ${result.tenantId}: ${rows} rows in ${result.tables.length} tables.`);
  console.log("Members choose their passwords by email (requestPasswordReset). Webhook endpoints are disabled with new secrets and API keys are revoked: see the README (people's rights, tenant export).");
} catch (error) {
  if (error instanceof TenantImportError || error instanceof StartupError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
