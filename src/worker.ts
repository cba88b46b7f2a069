// `npm run worker`: background work without the HTTP server — email delivery, partner webhooks,
// reminders, and bulk issuance. Run as many as you like: jobs are locked, crashed workers' jobs are
// released by the others (see src/modules/jobs/worker.ts).
import { loadConfig } from "./config.js";
import { openDatabase } from "./db/database.js";
import { createBulkRunner } from "./modules/bulk/runner.js";
import { startQueueWorker } from "./modules/jobs/worker.js";
import { buildTaskList, crontab } from "./modules/jobs/tasks.js";

const config = loadConfig();
if (!config.databaseUrl) {
  console.error("npm run worker needs DATABASE_URL (the embedded demo runs its worker inside npm start)");
  process.exit(1);
}
const database = await openDatabase(config);
const app = { config, database };
const runner = createBulkRunner(app);
runner.start();
const queue = await startQueueWorker(app, { taskList: buildTaskList(app), crontab: crontab(app), log: (line) => console.log(line) });
console.log(`Laurel worker running (${queue.workerId}); email via ${config.email.resendApiKey ? "Resend" : "the database outbox only (no RESEND_API_KEY)"}`);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await queue.stop();
  await runner.stop();
  await database.close();
  process.exit(0);
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
