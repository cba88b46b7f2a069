// `npx tsx test/bench/certificate-render.ts`: time and memory of one certificate PDF, for a Latin and a
// CJK name, each in a fresh process (so the first, cold render includes parsing the fonts it needs).
// Prints figures, asserts nothing; not part of `npm test` or `npm run bench`.
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { certificatePdf } from "../../src/modules/credentials/certificate-pdf.js";

const NAMES: Record<string, string> = { latin: "Zoë Müller-Łukasiewicz", cjk: "山田 さくら" };
const WARM = Number(process.env.BENCH_RENDERS ?? 50);

async function measure(kind: string) {
  const document = {
    id: "https://laurel.test/issuers/t/credentials/c",
    name: "Advanced Welding",
    description: "For completing the advanced welding programme with distinction.",
    issuer: { name: "Paper College" },
    validFrom: "2026-01-01T09:30:00+10:00",
    credentialSubject: { achievement: { name: "Advanced Welding", criteria: { narrative: "Pass the practical exam." } } },
  };
  const credential = { document, status: "ACTIVE" as const, validFrom: new Date(document.validFrom), validUntil: null, revokedAt: null, suspendedAt: null, revocationReason: null, timeZone: "UTC" };
  const render = () => certificatePdf(credential, "https://laurel.test/verify", { recipientName: NAMES[kind]!, timeZone: "UTC" });
  const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
  const rss0 = process.memoryUsage().rss;
  let t = performance.now();
  const first = await render();
  const cold = performance.now() - t;
  const rss1 = process.memoryUsage().rss;
  const times: number[] = [];
  for (let i = 0; i < WARM; i++) {
    t = performance.now();
    await render();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const mean = times.reduce((s, x) => s + x, 0) / times.length;
  const rss2 = process.memoryUsage().rss;
  console.log(
    `${kind.padEnd(5)} cold ${cold.toFixed(0)} ms (rss +${mb(rss1 - rss0)} MB) · warm mean ${mean.toFixed(1)} ms, p95 ${times[Math.floor(times.length * 0.95)]!.toFixed(1)} ms over ${WARM} · rss ${mb(rss2)} MB, heap ${mb(process.memoryUsage().heapUsed)} MB · ${(first.length / 1024).toFixed(1)} KB`,
  );
}

const kind = process.argv[2];
if (kind) await measure(kind);
else {
  for (const k of Object.keys(NAMES)) {
    await new Promise((resolve) => fork(fileURLToPath(import.meta.url), [k], { execArgv: process.execArgv }).on("exit", resolve));
  }
}
