// `npm run bench:render`: what drawing costs, per item, for the things Laurel renders on demand:
//   (a) the certificate PDF in each layout, (b) the generated badge PNG, (c) the 1200×630 share
//   preview, each with a Latin, an Arabic and a Chinese text; then (d) bulk issuance with and without
//   a certificate design on the template. Prints figures and ratios, asserts nothing; not in `npm test`.
// Each (a)-(c) case runs in a fresh process, so its memory is its own: "cold" is the first item
// (fonts parsed, faces loaded), p50/p95 the next BENCH_RENDERS items. RSS and heap peaks are sampled
// after every item (rendering is synchronous CPU work, a timer would not fire during it).
import { fork } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { certificatePdf } from "../../src/modules/credentials/certificate-pdf.js";
import { badgeDesignPng } from "../../src/modules/credentials/badge-design.js";
import { previewPng, type PreviewFacts } from "../../src/public/preview-image.js";
import { LAYOUTS, type Layout } from "../../src/modules/designs/design.js";
import { sampleCredential, sampleDesign } from "../designs/samples.js";
import { benchBulk } from "./bulk.js";
import { TEST_ENV } from "../helpers/env.js";

const RENDERS = Number(process.env.BENCH_RENDERS ?? 30);
const SCRIPTS = {
  latin: { person: "Zoë Müller-Łukasiewicz", achievement: "Advanced Welding", locale: "en-GB" },
  arabic: { person: "فاطمة الزهراء بن علي", achievement: "اللحام المتقدم", locale: "ar" },
  chinese: { person: "王小明", achievement: "高级焊接技术", locale: "zh-CN" },
} as const;
type Script = keyof typeof SCRIPTS;
const TENANT = "5b0f7c0e-3c1a-4f7e-9a39-3f1f7a0c2d11";

interface Figures {
  label: string;
  script: Script;
  cold: number;
  p50: number;
  p95: number;
  rssPeak: number;
  heapPeak: number;
  bytes: number;
}

/** One case in this process: `render(i)` draws item i (i differs so no render-level cache answers). */
async function measure(label: string, script: Script, render: (i: number) => Promise<Buffer> | Buffer): Promise<Figures> {
  let rssPeak = 0;
  let heapPeak = 0;
  const sample = () => {
    const m = process.memoryUsage();
    rssPeak = Math.max(rssPeak, m.rss);
    heapPeak = Math.max(heapPeak, m.heapUsed);
  };
  let t = performance.now();
  const first = await render(0);
  const cold = performance.now() - t;
  sample();
  const times: number[] = [];
  for (let i = 1; i <= RENDERS; i++) {
    t = performance.now();
    await render(i);
    times.push(performance.now() - t);
    sample();
  }
  times.sort((a, b) => a - b);
  const pct = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))]!;
  return { label, script, cold, p50: pct(0.5), p95: pct(0.95), rssPeak: rssPeak / 2 ** 20, heapPeak: heapPeak / 2 ** 20, bytes: first.length };
}

function runCase(kind: string, script: Script): Promise<Figures> {
  const s = SCRIPTS[script];
  if (kind.startsWith("pdf:")) {
    const layout = kind.slice(4) as Layout;
    const credential = sampleCredential(s.person);
    return measure(`(a) certificate PDF, ${layout}`, script, () =>
      certificatePdf(credential, "https://laurel.test/verify", { timeZone: "Europe/Berlin", locale: s.locale, design: sampleDesign(layout) }),
    );
  }
  if (kind === "badge") {
    // badgeDesignPng keeps recent designs: a new template id each time (the shape stays fixed).
    return measure("(b) badge PNG 512×512", script, () =>
      badgeDesignPng({ name: s.achievement, issuerName: "Northwind Technical Academy", tenantId: TENANT, templateId: randomUUID(), shape: "rosette" }),
    );
  }
  const badge = badgeDesignPng({ name: s.achievement, issuerName: "Northwind Technical Academy", tenantId: TENANT, templateId: randomUUID(), shape: "circle" });
  // previewPng keeps recent previews by its facts' JSON: an extra, undrawn key makes each one new.
  return measure("(c) share preview 1200×630", script, (i) =>
    previewPng({ title: s.achievement, recipientName: s.person, issuerName: "Northwind Technical Academy", statusText: null, locale: s.locale, bench: i } as PreviewFacts, badge),
  );
}

const [kind, script] = process.argv.slice(2);
if (kind && script) {
  process.send!(await runCase(kind, script as Script));
  process.exit(0);
}

const child = (kind: string, script: Script) =>
  new Promise<Figures>((resolve, reject) => {
    const p = fork(fileURLToPath(import.meta.url), [kind, script], { execArgv: process.execArgv });
    p.on("message", (m) => resolve(m as Figures));
    p.on("exit", (code) => code !== 0 && reject(new Error(`${kind} ${script} exited ${code}`)));
  });
// BENCH_RENDER=0 skips (a)-(c); BENCH_BULK=0 skips (d).
const kinds = process.env.BENCH_RENDER === "0" ? [] : [...LAYOUTS.map((l) => `pdf:${l}`), "badge", "preview"];
if (kinds.length) console.log(`Rendering, per item (cold = first item in a fresh process; p50/p95 over the next ${RENDERS}; peaks of the process, MB)\n`);
if (kinds.length) console.log(`${"".padEnd(30)}${"script".padEnd(9)}${"cold ms".padStart(9)}${"p50 ms".padStart(9)}${"p95 ms".padStart(9)}${"×latin".padStart(8)}${"RSS pk".padStart(9)}${"heap pk".padStart(9)}${"KB".padStart(8)}`);
for (const k of kinds) {
  let latin = NaN;
  for (const script of Object.keys(SCRIPTS) as Script[]) {
    const f = await child(k, script);
    if (script === "latin") latin = f.p50;
    console.log(
      `${f.label.padEnd(30)}${script.padEnd(9)}${f.cold.toFixed(0).padStart(9)}${f.p50.toFixed(1).padStart(9)}${f.p95.toFixed(1).padStart(9)}${(f.p50 / latin).toFixed(2).padStart(8)}${f.rssPeak.toFixed(0).padStart(9)}${f.heapPeak.toFixed(0).padStart(9)}${(f.bytes / 1024).toFixed(1).padStart(8)}`,
    );
  }
}

if (process.env.BENCH_BULK !== "0") {
  // Designs are read when a certificate is downloaded, never while issuing: both runs should match.
  Object.assign(process.env, TEST_ENV);
  const sizes = (process.env.BENCH_BULK_SIZES ?? "5000").split(",").map(Number);
  const server = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  console.log("\n(d) Bulk issuance through the worker, without and with a certificate design on the template:");
  const plain = await benchBulk(sizes, server);
  const designed = await benchBulk(sizes, server, {
    design: { layout: "modern", primaryColor: "#1f4e79", accentColor: "#f5c542", signatures: [{ name: "Dr. Maria Keller", title: "Director of Studies" }] },
  });
  const rate = (line: string) => Number(/(\d+) credentials\/s/.exec(line)?.[1]);
  plain.forEach((line, i) => console.log(`    ratio designed/plain (${sizes[i]} rows): ${(rate(designed[i]!) / rate(line)).toFixed(2)}`));
}
