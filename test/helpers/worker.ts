// The real queue worker (graphile-worker + Laurel's tasks) in the test process, against a test app's
// database, and small waiting helpers for work that happens in the background.
import { loadConfig, type Config } from "../../src/config.js";
import { startQueueWorker, type QueueWorker } from "../../src/modules/jobs/worker.js";
import { createTasks } from "../../src/modules/jobs/tasks.js";
import type { TestApp } from "./app.js";

export async function startTestWorker(app: TestApp): Promise<QueueWorker> {
  const workerApp = { config: app.config, database: app.database };
  return startQueueWorker(workerApp, createTasks(workerApp, { bulk: { log: () => {} } }));
}

/** Config for tests that deliver: the fake Resend server, quick polling, local webhook receivers allowed. */
export function deliveryConfig(overrides: { resendUrl?: string; webhookSecret?: string } = {}): Partial<Config> {
  const base = loadConfig({ NODE_ENV: "test" });
  return {
    email: {
      ...base.email,
      resendApiKey: overrides.resendUrl ? "re_test_key" : undefined,
      resendBaseUrl: overrides.resendUrl,
      resendWebhookSecret: overrides.webhookSecret,
    },
    queue: { ...base.queue, pollIntervalMs: 100, heartbeatMs: 500, staleAfterMs: 3_000 },
    webhooks: { ...base.webhooks, allowPrivateNetworks: true, retrySchedule: [0.2, 0.2, 0.2], timeoutMs: 2_000 },
  };
}

export async function waitFor<T>(probe: () => Promise<T | null | undefined | false>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
