// `npm run worker`: background work without the HTTP server: email delivery, partner webhooks,
// reminders and bulk issuance, all from one graphile-worker queue. Run as many as you like: jobs are
// locked, and a crashed worker's jobs are released by the others (src/modules/jobs/worker.ts).
import { loadConfig } from "./config.js";
import { openDatabase } from "./db/database.js";
import { startQueueWorker } from "./modules/jobs/worker.js";
import { createTasks, crontab } from "./modules/jobs/tasks.js";

const config = loadConfig();
if (!config.databaseUrl) {
  console.error("npm run worker needs DATABASE_URL (the embedded demo runs its worker inside npm start)");
  process.exit(1);
}
const database = await openDatabase(config);
const app = { config, database };
const queue = await startQueueWorker(app, { ...createTasks(app), crontab: crontab(app), log: (line) => console.log(line) });
console.log(`Laurel worker running (${queue.workerId}); email via ${config.email.resendApiKey ? "Resend" : "the database outbox only (no RESEND_API_KEY)"}`);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await queue.stop();
  await database.close();
  process.exit(0);
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
