// The server under load runs in its own process, as in production: the load generator must not
// share its event loop. Reports its peak RSS on SIGTERM.
import { loadConfig } from "../../src/config.js";
import { openDatabase } from "../../src/db/database.js";
import { startServer } from "../../src/server.js";

const config = { ...loadConfig(), port: 0 };
const database = await openDatabase(config);
const running = await startServer({ config, database }, 0, "127.0.0.1");
let peak = process.memoryUsage.rss();
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 100);
process.send?.({ url: running.url });
process.on("SIGTERM", async () => {
  clearInterval(sampler);
  process.send?.({ peakRssMb: peak / 1024 / 1024 });
  await running.close();
  await database.close();
  process.exit(0);
});
