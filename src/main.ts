// `npm start`: check the configuration, migrate, serve GraphQL and run the worker; on the embedded
// database seed a demo tenant once. SIGTERM or SIGINT shuts down gracefully: stop accepting, finish
// the requests and jobs in flight (up to SHUTDOWN_TIMEOUT_MS), close the pools, exit 0.
import { loadConfig } from "./config.js";
import { openDatabase } from "./db/database.js";
import { startServer } from "./server.js";
import { startQueueWorker } from "./modules/jobs/worker.js";
import { createTasks, crontab, recurringWork } from "./modules/jobs/tasks.js";
import { demoKeks, demoKeyFile, seedDemo } from "./demo.js";
import { checkConfiguration, checkSealedSecrets, onShutdownSignals, reportStartupFailure, surviveDatabaseOutages } from "./startup.js";

async function main() {
  surviveDatabaseOutages();
  let config = loadConfig();
  const warnings = checkConfiguration(config);
  if (!config.databaseUrl && config.keks.size === 0) {
    // The embedded demo keeps its own key-encryption key in its data folder; a real deployment sets LAUREL_KEKS.
    config = { ...config, keks: await demoKeks(config) };
  }
  for (const warning of warnings) console.warn(`warning: ${warning}`);
  const database = await openDatabase(config, { log: (line) => console.log(`[db] ${line}`) });
  await checkSealedSecrets(database.adminUrl, config.roles.owner, config.keks).catch(async (error) => {
    await database.close();
    throw error;
  });
  const app = { config, database };
  const running = await startServer(app);
  // Email, partner webhooks, reminders and bulk issuance run in this process too unless LAUREL_RUN_WORKER=false.
  const tasks = config.runWorker ? createTasks(app) : undefined;
  const queue = tasks
    ? await startQueueWorker(app, { ...tasks, crontab: crontab(app), recurring: recurringWork(app), log: (line) => console.log(`[worker] ${line}`) })
    : undefined;
  onShutdownSignals(async (signal) => {
    console.log(`${signal}: shutting down (requests in flight have ${config.shutdownTimeoutMs / 1000} s to finish)`);
    await Promise.all([running.close(config.shutdownTimeoutMs), queue?.stop()]);
    await database.close();
    console.log("stopped");
  });
  if (queue && !config.email.resendApiKey) console.log("No RESEND_API_KEY: emails are rendered into the database outbox (query emailMessages) instead of sent");
  console.log(`Laurel is listening on ${running.url} (node ${process.version})`);
  console.log(`GraphQL endpoint${config.graphiql ? " and GraphiQL" : ""}: ${running.url}/graphql`);
  if (database.embedded) {
    const demo = await seedDemo(app);
    if (demo) {
      console.log(`Demo tenant "${demo.tenantName}" created. Sign in as ${demo.email} / ${demo.password}`);
      console.log(`Demo API key (shown once, also saved in ${demo.keyFile}):\n  ${demo.apiKey}`);
    } else {
      console.log(`Demo tenant already exists; its API key is in ${demoKeyFile(config)}`);
    }
  }
}

await main().catch(reportStartupFailure);
