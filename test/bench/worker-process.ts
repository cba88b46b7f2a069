// The bulk runner in its own process, as `npm run worker` runs it, reporting its peak RSS on SIGTERM.
import { loadConfig } from "../../src/config.js";
import { openDatabase } from "../../src/db/database.js";
import { createBulkRunner } from "../../src/modules/bulk/runner.js";

const config = loadConfig();
const database = await openDatabase(config);
const runner = createBulkRunner({ config, database }, { pollMs: 20, log: () => {} });
let peak = process.memoryUsage.rss();
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 50);
runner.start();
process.send?.({ ready: true });
process.on("SIGTERM", async () => {
  clearInterval(sampler);
  await runner.stop();
  process.send?.({ peakRssMb: peak / 1024 / 1024 });
  await database.close();
  process.exit(0);
});
