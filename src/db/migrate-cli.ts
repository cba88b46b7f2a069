// `npm run db:migrate`: bootstrap roles and apply sql/ to DATABASE_URL (or the embedded database).
// `npm run db:migrate -- --set-login-password` also sets the existing login role's password to
// LAUREL_DB_LOGIN_PASSWORD: the only way Laurel ever changes it.
import { loadConfig } from "../config.js";
import { openDatabase } from "./database.js";
import { reportStartupFailure } from "../startup.js";

const flags = process.argv.slice(2);
const unknown = flags.filter((f) => f !== "--set-login-password");
if (unknown.length) {
  console.error(`unknown option ${unknown.join(" ")} (known: --set-login-password)`);
  process.exit(2);
}
try {
  const config = loadConfig();
  const db = await openDatabase(config, { log: (line) => console.log(line), setLoginPassword: flags.includes("--set-login-password") });
  await db.close();
  console.log("migrations are up to date");
} catch (error) {
  reportStartupFailure(error);
}
