// `npm run db:migrate`: bootstrap roles and apply sql/ to DATABASE_URL (or the embedded database).
import { loadConfig } from "../config.js";
import { openDatabase } from "./database.js";

const config = loadConfig();
const db = await openDatabase(config, { log: (line) => console.log(line) });
await db.close();
console.log("migrations are up to date");
