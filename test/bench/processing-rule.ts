// What the processing rule (processing_allowed(), sql/037) costs per row, as engagement ingestion and
// partner events call it: 100,000 calls in one query on a fresh scratch database, three runs, without
// and with birth dates (a third of the rows). Run: npx tsx test/bench/processing-rule.ts
import postgres from "postgres";
import { migrate } from "../../src/db/migrate.js";
import { TEST_ROLES, TEST_LOGIN_PASSWORD, adminUrlFor, testServerUrl } from "../helpers/env.js";

const serverUrl = testServerUrl();
const name = `laurel_bench_rule_${process.pid}`;
const admin = postgres(adminUrlFor(serverUrl, "postgres"), { max: 1, onnotice: () => {} });
await admin.unsafe(`create database "${name}"`);
try {
  await migrate({ adminUrl: adminUrlFor(serverUrl, name), roles: TEST_ROLES, loginPassword: TEST_LOGIN_PASSWORD });
  const db = postgres(adminUrlFor(serverUrl, name), { max: 1, onnotice: () => {} });
  for (const births of [false, true]) {
    for (let run = 0; run < 3; run++) {
      const started = performance.now();
      const [row] = await db`
        select count(*) filter (where processing_allowed('tracking', i % 2 = 0, case when i % 7 = 0 then now() end, null, i % 11 = 0,
                                  case when ${births} and i % 3 = 0 then date '2015-06-01' end, null, 'Europe/Paris', now())) as allowed
          from generate_series(1, 100000) i`;
      console.log(`${births ? "with" : "without"} birth dates: 100,000 calls in ${(performance.now() - started).toFixed(0)} ms (${row!.allowed} allowed)`);
    }
  }
  await db.end();
} finally {
  await admin.unsafe(`drop database if exists "${name}" with (force)`);
  await admin.end();
}
