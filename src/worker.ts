// `npm run worker`: background work without the HTTP server: email delivery, partner webhooks,
// reminders and bulk issuance, all from one graphile-worker queue. Run as many as you like: jobs are
// locked, and a crashed worker's jobs are released by the others (src/modules/jobs/worker.ts).
// SIGTERM or SIGINT finishes the jobs in flight, then exits 0.
import { loadConfig, StartupError } from "./config.js";
import { openDatabase } from "./db/database.js";
import { startQueueWorker } from "./modules/jobs/worker.js";
import { createTasks, crontab } from "./modules/jobs/tasks.js";
import { keyMaintenanceAtStartup } from "./modules/vault/maintenance.js";
import { checkConfiguration, checkSealedSecrets, onShutdownSignals, reportStartupFailure, surviveDatabaseOutages } from "./startup.js";

async function main() {
  surviveDatabaseOutages();
  const config = loadConfig();
  if (!config.databaseUrl) throw new StartupError("npm run worker needs DATABASE_URL (the embedded demo runs its worker inside npm start)");
  for (const warning of checkConfiguration(config)) console.warn(`warning: ${warning}`);
  const database = await openDatabase(config);
  await checkSealedSecrets(database.adminUrl, config.roles.owner, config.keks).catch(async (error) => {
    await database.close();
    throw error;
  });
  const app = { config, database };
  const queue = await startQueueWorker(app, { ...createTasks(app), crontab: crontab(app), log: (line) => console.log(line) });
  await keyMaintenanceAtStartup(app, queue);
  onShutdownSignals(async (signal) => {
    console.log(`${signal}: finishing the jobs in flight`);
    await queue.stop();
    await database.close();
  });
  console.log(`Laurel worker running (${queue.workerId}, node ${process.version}); email via ${config.email.resendApiKey ? "Resend" : "the database outbox only (no RESEND_API_KEY)"}`);
}

await main().catch(reportStartupFailure);
