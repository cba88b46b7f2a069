// `npm run worker`: background work without the HTTP server (bulk issuance for now; email delivery
// joins it with the delivery issue). Run as many as you like: jobs are leased.
import { loadConfig } from "./config.js";
import { openDatabase } from "./db/database.js";
import { createBulkRunner } from "./modules/bulk/runner.js";

const config = loadConfig();
if (!config.databaseUrl) {
  console.error("npm run worker needs DATABASE_URL (the embedded demo runs its worker inside npm start)");
  process.exit(1);
}
const database = await openDatabase(config);
const runner = createBulkRunner({ config, database });
runner.start();
console.log("Laurel worker running");
const stop = async () => {
  await runner.stop();
  await database.close();
  process.exit(0);
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
