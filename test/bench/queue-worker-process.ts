// The queue worker in its own process, as `npm run worker` runs it (email, webhooks, bulk jobs),
// reporting its peak RSS on SIGTERM.
import { loadConfig } from "../../src/config.js";
import { openDatabase } from "../../src/db/database.js";
import { startQueueWorker } from "../../src/modules/jobs/worker.js";
import { createTasks } from "../../src/modules/jobs/tasks.js";

const config = loadConfig();
const database = await openDatabase(config);
const app = { config, database };
let peak = process.memoryUsage.rss();
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 50);
const worker = await startQueueWorker(app, createTasks(app, { bulk: { log: () => {} } }));
process.send?.({ ready: true });
process.on("SIGTERM", async () => {
  clearInterval(sampler);
  await worker.stop();
  process.send?.({ peakRssMb: peak / 1024 / 1024 });
  await database.close();
  process.exit(0);
});
