// Per-call costs of the primitives sealing and tracking use, in µs per call (prints, asserts nothing):
// AES-256-GCM sealing (vault/cipher.ts sealWith) of a short and a 6 KB value against a bare cipher call,
// and HMAC-SHA-256 with a KeyObject against a raw Buffer key (what tracking.ts and blind indexes avoid).
// Run: npm run bench:crypto   (BENCH_CALLS, default 100,000 per measure)
import { createCipheriv, createHmac, createSecretKey, randomBytes } from "node:crypto";
import { sealWith } from "../../src/modules/vault/cipher.js";

const CALLS = Number(process.env.BENCH_CALLS ?? 100_000);
const raw = randomBytes(32);
const key = createSecretKey(raw);
const iv = randomBytes(12);
const place = { table: "recipients", column: "email", tenantId: "0196f4f2-1111-7000-8000-000000000000", rowId: "0196f4f2-2222-7000-8000-000000000000" };

function perCall(run: () => void): number {
  for (let i = 0; i < Math.min(CALLS, 10_000); i++) run(); // warm up
  const t0 = performance.now();
  for (let i = 0; i < CALLS; i++) run();
  return ((performance.now() - t0) * 1000) / CALLS;
}

const line = (label: string, us: number) => console.log(`${label.padEnd(62)} ${us.toFixed(2).padStart(7)} µs/call`);
for (const [name, text] of [["short (an email address)", "someone@example.test"], ["6 KB (an email's content)", "x".repeat(6000)]] as const) {
  line(`sealWith, ${name}`, perCall(() => sealWith(key, 1, text, place)));
  line(`  bare AES-256-GCM, KeyObject key, ${name}`, perCall(() => {
    const c = createCipheriv("aes-256-gcm", key, iv);
    c.update(text, "utf8");
    c.final();
    c.getAuthTag();
  }));
}
const body = randomBytes(40);
const viaKeyObject = perCall(() => createHmac("sha256", key).update(body).update("\n").update("https://x", "utf8").digest());
const viaBuffer = perCall(() => createHmac("sha256", raw).update(body).update("\n").update("https://x", "utf8").digest());
line("HMAC-SHA-256, KeyObject key", viaKeyObject);
line("HMAC-SHA-256, raw Buffer key", viaBuffer);
console.log(`raw Buffer key / KeyObject: ${(viaBuffer / viaKeyObject).toFixed(1)}×`);
