// `npm start`: check the configuration, migrate, serve GraphQL and run the worker; on the embedded
// database seed a demo tenant once. SIGTERM or SIGINT shuts down gracefully: stop accepting, finish
// the requests and jobs in flight (up to SHUTDOWN_TIMEOUT_MS), close the pools, exit 0.
//
// LAUREL_SERVER_PROCESSES=N (N > 1, PostgreSQL only): this process migrates, runs the worker (unless
// LAUREL_RUN_WORKER=false) and forks N server processes that share the port (node:cluster), replacing
// one that dies; a signal stops them all the same graceful way.
//
// LAUREL_TLS_CERT + LAUREL_TLS_KEY: HTTPS, the files checked before anything else starts; SIGHUP reads
// them again (a renewed certificate) for new connections, or keeps the old ones if the new are wrong.
import cluster from "node:cluster";
import { loadConfig, StartupError, type Config } from "./config.js";
import { openDatabase } from "./db/database.js";
import { startServer, type RunningServer } from "./server.js";
import { readTlsCredentials } from "./lib/tls-credentials.js";
import { startQueueWorker } from "./modules/jobs/worker.js";
import { createTasks, crontab, recurringWork } from "./modules/jobs/tasks.js";
import { demoKeks, demoKeyFile, seedDemo } from "./demo.js";
import { keyMaintenanceAtStartup } from "./modules/vault/maintenance.js";
import { checkConfiguration, checkSealedSecrets, plainHttpWarning, onShutdownSignals, reportStartupFailure, surviveDatabaseOutages } from "./startup.js";

async function main() {
  surviveDatabaseOutages();
  let config = loadConfig();
  const warnings = checkConfiguration(config);
  const plainHttp = plainHttpWarning(config);
  if (plainHttp) warnings.push(plainHttp);
  // Before the database: a certificate problem is the operator's to fix, and should not wait on migrations.
  const tls = config.tls && readTlsCredentials(config.tls);
  if (tls && cluster.isPrimary) console.log(`HTTPS with the certificate for ${tls.subject}, valid until ${tls.validTo.toISOString()}`);
  if (!config.databaseUrl && config.keks.size === 0) {
    // The embedded demo keeps its own key-encryption key in its data folder; a real deployment sets LAUREL_KEKS.
    config = { ...config, keks: await demoKeks(config) };
  }
  if (config.serverProcesses > 1 && cluster.isPrimary) return supervise(config, warnings);
  if (cluster.isPrimary) for (const warning of warnings) console.warn(`warning: ${warning}`);
  const app = await openApp(config);
  const { database } = app;
  const running = await startServer(app, config.port, config.host, tls);
  if (tls) reloadTlsOnSighup(running);
  // Email, partner webhooks, reminders and bulk issuance run in this process too unless LAUREL_RUN_WORKER=false.
  const queue = await startWorkerIf(app);
  // A server process of LAUREL_SERVER_PROCESSES stops when its supervisor says (SIGTERM); a terminal's
  // Ctrl-C reaches the whole group, and the supervisor passes it on once.
  if (cluster.isWorker) process.on("SIGINT", () => {});
  onShutdownSignals(async (signal) => {
    console.log(`${signal}: shutting down (requests in flight have ${config.shutdownTimeoutMs / 1000} s to finish)`);
    await Promise.all([running.close(config.shutdownTimeoutMs), queue?.stop()]);
    await database.close();
    console.log("stopped");
  }, cluster.isWorker ? ["SIGTERM"] : ["SIGTERM", "SIGINT"]);
  if (queue && !config.email.resendApiKey) console.log("No RESEND_API_KEY: emails are rendered into the database outbox (query emailMessages) instead of sent");
  const which = cluster.isWorker ? `, server process ${cluster.worker!.id} of ${config.serverProcesses}` : "";
  console.log(`Laurel is listening on ${running.url} (node ${process.version}${which})`);
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

/**
 * SIGHUP: serve new connections with LAUREL_TLS_CERT/KEY as they are now. Only with TLS on, since
 * listening for SIGHUP stops it ending the process (a closed terminal).
 */
function reloadTlsOnSighup(running: RunningServer) {
  process.on("SIGHUP", () => {
    try {
      const renewed = running.reloadTls();
      if (renewed) console.log(`SIGHUP: HTTPS now uses the certificate for ${renewed.subject}, valid until ${renewed.validTo.toISOString()}`);
    } catch (error) {
      console.error(`SIGHUP: kept the certificate in use: ${(error as Error).message}`);
    }
  });
}

/** The database, migrated, with the sealed signing keys checked against LAUREL_KEKS (closed again if they fail). */
async function openApp(config: Config) {
  const database = await openDatabase(config, { log: (line) => console.log(`[db] ${line}`) });
  await checkSealedSecrets(database.adminUrl, config.roles.owner, config.keks).catch(async (error) => {
    await database.close();
    throw error;
  });
  return { config, database };
}

/** The queue worker (email, webhooks, reminders, bulk jobs, crons) when config.runWorker, else undefined. */
async function startWorkerIf(app: Awaited<ReturnType<typeof openApp>>) {
  if (!app.config.runWorker) return undefined;
  const queue = await startQueueWorker(app, { ...createTasks(app), crontab: crontab(app), recurring: recurringWork(app), log: (line) => console.log(`[worker] ${line}`) });
  await keyMaintenanceAtStartup(app, queue);
  return queue;
}

/**
 * The primary of LAUREL_SERVER_PROCESSES > 1: migrates and checks once, runs the worker here, and keeps
 * N server processes (each with LAUREL_RUN_WORKER=false) listening on the shared port.
 */
async function supervise(config: Config, warnings: string[]): Promise<void> {
  if (!config.databaseUrl) throw new StartupError("LAUREL_SERVER_PROCESSES above 1 needs a real PostgreSQL (DATABASE_URL): the embedded demo serves one connection at a time");
  for (const warning of warnings) console.warn(`warning: ${warning}`);
  const app = await openApp(config);
  const { database } = app;
  const queue = await startWorkerIf(app);
  let stopping = false;
  const fork = () => cluster.fork({ LAUREL_RUN_WORKER: "false" });
  cluster.on("exit", (worker, code, signal) => {
    if (stopping) return;
    console.error(`server process ${worker.id} ended (${signal ?? `exit ${code}`}): starting another`);
    fork();
  });
  for (let i = 0; i < config.serverProcesses; i++) fork();
  // A renewed certificate reaches every server process.
  if (config.tls) process.on("SIGHUP", () => Object.values(cluster.workers ?? {}).forEach((w) => w?.process.kill("SIGHUP")));
  console.log(`Laurel supervises ${config.serverProcesses} server processes${queue ? " and runs the worker" : ""} (pid ${process.pid})`);
  onShutdownSignals(async (signal) => {
    stopping = true;
    console.log(`${signal}: stopping ${config.serverProcesses} server processes${queue ? " and the worker" : ""}`);
    const ended = Object.values(cluster.workers ?? {}).map((w) => new Promise<void>((resolve) => {
      if (!w || w.isDead()) return resolve();
      w.once("exit", () => resolve());
      w.process.kill("SIGTERM");
    }));
    await Promise.all([...ended, queue?.stop()]);
    await database.close();
    console.log("stopped");
  });
}

await main().catch(reportStartupFailure);
