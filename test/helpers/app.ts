// Starts Laurel for real (migrations check, login role, HTTP on a free port) on a fresh database.
import { loadConfig, type Config } from "../../src/config.js";
import { openDatabase, type Database } from "../../src/db/database.js";
import { startServer, type RunningServer } from "../../src/server.js";
import { createLaurelClient, type LaurelClient } from "../../src/sdk/index.js";
import { createTestDatabase, type TestDatabase } from "./db.js";
import { startQueueWorker } from "../../src/modules/jobs/worker.js";
import { createTasks, type TaskOptions } from "../../src/modules/jobs/tasks.js";
import { TEST_ENV } from "./env.js";

export interface TestApp {
  config: Config;
  database: Database;
  db: TestDatabase;
  server: RunningServer;
  graphqlUrl: string;
  /** An SDK client, signed in with `token` when given. */
  client(token?: string): LaurelClient;
  /** Raw POST to /graphql, for requests the SDK would refuse to make. */
  post(body: unknown, headers?: Record<string, string>): Promise<{ status: number; json: any; headers: Headers }>;
  /** SQL statements Prisma has sent since the last reset. */
  queries: string[];
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** Run the queue worker in-process (bulk jobs, email, webhooks) with these task options. */
  worker?: TaskOptions | false;
}

export async function startTestApp(overrides: Partial<Config> = {}, options: TestAppOptions = {}): Promise<TestApp> {
  const db = await createTestDatabase();
  const config = {
    ...loadConfig({ ...TEST_ENV, DATABASE_URL: db.adminUrl, NODE_ENV: "test" }),
    port: 0,
    ...overrides,
  };
  const queries: string[] = [];
  const database = await openDatabase(config, { onQuery: (q) => queries.push(q) });
  const server = await startServer({ config, database }, 0, "127.0.0.1");
  const app = { config: { ...config, queue: { ...config.queue, pollIntervalMs: 100 } }, database };
  const worker = options.worker ? await startQueueWorker(app, createTasks(app, { ...options.worker, bulk: { log: () => {}, ...options.worker.bulk } })) : undefined;
  const graphqlUrl = `${server.url}/graphql`;
  return {
    config,
    database,
    db,
    server,
    graphqlUrl,
    queries,
    client: (token) => createLaurelClient({ url: graphqlUrl, token }),
    async post(body, headers = {}) {
      const response = await fetch(graphqlUrl, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/graphql-response+json", ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
      const text = await response.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = { raw: text };
      }
      return { status: response.status, json, headers: response.headers };
    },
    async close() {
      await server.close();
      await worker?.stop();
      await database.close();
      await db.drop();
    },
  };
}
