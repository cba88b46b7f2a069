// `npm start`: migrate, serve GraphQL, and on the embedded database seed a demo tenant once.
import { loadConfig } from "./config.js";
import { openDatabase } from "./db/database.js";
import { startServer } from "./server.js";
import { startQueueWorker } from "./modules/jobs/worker.js";
import { createTasks, crontab, recurringWork } from "./modules/jobs/tasks.js";
import { demoKeks, demoKeyFile, seedDemo } from "./demo.js";

let config = loadConfig();
if (!config.databaseUrl && config.keks.size === 0) {
  // The embedded demo keeps its own key-encryption key beside its data; a real deployment sets LAUREL_KEKS.
  config = { ...config, keks: await demoKeks(config) };
}
const database = await openDatabase(config, { log: (line) => console.log(`[db] ${line}`) });
const app = { config, database };
const running = await startServer(app);
// Email, partner webhooks, reminders and bulk issuance run in this process too unless LAUREL_RUN_WORKER=false.
const tasks = config.runWorker ? createTasks(app) : undefined;
const queue = tasks
  ? await startQueueWorker(app, { ...tasks, crontab: crontab(app), recurring: recurringWork(app), log: (line) => console.log(`[worker] ${line}`) })
  : undefined;
if (queue && !config.email.resendApiKey) console.log("No RESEND_API_KEY: emails are rendered into the database outbox (query emailMessages) instead of sent");
console.log(`Laurel is listening on ${running.url}`);
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

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: shutting down`);
  await running.close();
  await queue?.stop();
  await database.close();
  process.exit(0);
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));
