// The ingestion buffer on its own, against a stand-in database: it never blocks, caps its memory,
// retries a failed batch once, and drains on stop().
import { describe, expect, it } from "vitest";
import type { Database } from "../../src/db/database.js";
import { createEngagementRecorder, type EngagementInput } from "../../src/modules/engagement/ingest.js";
import { TEST_ROLES } from "../helpers/env.js";

/** A database whose every batch call is handed to `onBatch`, which decides how it goes. */
function fakeDatabase(onBatch: (events: unknown[]) => Promise<void>): Database {
  const tx = (strings: TemplateStringsArray, ...values: unknown[]) =>
    strings.join("").includes("record_engagement_events") ? onBatch(JSON.parse(String(values[0]))) : Promise.resolve([]);
  return { sql: { begin: (work: (t: typeof tx) => Promise<unknown>) => work(tx) } } as unknown as Database;
}

const event = (i = 0): EngagementInput => ({
  tenantId: "00000000-0000-0000-0000-000000000001",
  credentialId: `00000000-0000-0000-0000-${String(i).padStart(12, "0")}`,
  type: "email_opened",
  channel: "email",
  uaClass: "desktop",
  ipHash: null,
  machine: false,
});

describe("the engagement recorder", () => {
  it("writes events in batches and drains everything on stop", async () => {
    const batches: number[] = [];
    const recorder = createEngagementRecorder(
      { database: fakeDatabase(async (events) => void batches.push(events.length)), config: { roles: TEST_ROLES } },
      { batchSize: 100, intervalMs: 10 },
    );
    for (let i = 0; i < 250; i++) expect(recorder.record(event(i))).toBe(true);
    await recorder.stop();
    expect(batches.reduce((a, b) => a + b, 0)).toBe(250);
    expect(Math.max(...batches)).toBeLessThanOrEqual(100);
    expect(recorder.stats()).toMatchObject({ recorded: 250, written: 250, dropped: 0, buffered: 0 });
    expect(recorder.record(event())).toBe(false); // stopped
  });

  it("drops and counts beyond its cap instead of blocking while the database is stuck", async () => {
    let release!: () => void;
    const stuck = new Promise<void>((r) => (release = r));
    const recorder = createEngagementRecorder(
      { database: fakeDatabase(() => stuck), config: { roles: TEST_ROLES } },
      { batchSize: 10, intervalMs: 1, maxBuffered: 50, maxInFlight: 1 },
    );
    const started = performance.now();
    let accepted = 0;
    for (let i = 0; i < 1000; i++) {
      if (recorder.record(event(i))) accepted++;
      if (i % 100 === 0) await new Promise((r) => setTimeout(r, 2));
    }
    expect(performance.now() - started).toBeLessThan(1000);
    expect(accepted).toBe(50);
    expect(recorder.stats()).toMatchObject({ dropped: 950, buffered: 50 });
    release();
    await recorder.stop();
    expect(recorder.stats()).toMatchObject({ written: 50, buffered: 0 });
  });

  it("retries a failed batch once, then gives it up and says so", async () => {
    let calls = 0;
    const logged: string[] = [];
    const flaky = createEngagementRecorder(
      { database: fakeDatabase(async () => { if (++calls === 1) throw new Error("connection reset"); }), config: { roles: TEST_ROLES } },
      { retryDelayMs: 1, log: (m) => logged.push(m) },
    );
    flaky.record(event());
    await flaky.flush();
    expect(calls).toBe(2);
    expect(flaky.stats()).toMatchObject({ written: 1, failed: 0 });

    const broken = createEngagementRecorder(
      { database: fakeDatabase(async () => { throw new Error("down"); }), config: { roles: TEST_ROLES } },
      { retryDelayMs: 1, log: (m) => logged.push(m) },
    );
    broken.record(event());
    broken.record(event(1));
    await broken.stop();
    expect(broken.stats()).toMatchObject({ written: 0, failed: 2 });
    expect(logged).toEqual([expect.stringContaining("dropped a batch of 2 events")]);
  });
});
