// Renders each built-in design with sample data into docs/designs/certificate-<layout>.png (and .pdf
// beside it in the temp folder) for the README: `npx tsx test/designs/render-docs.ts`. Needs pdftoppm.
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { certificatePdf } from "../../src/modules/credentials/certificate-pdf.js";
import { LAYOUTS } from "../../src/modules/designs/design.js";
import { sampleCredential, sampleDesign } from "./samples.js";

const dir = mkdtempSync(join(tmpdir(), "laurel-designs-"));
for (const layout of LAYOUTS) {
  const pdf = await certificatePdf(sampleCredential(process.env.NAME ?? "Amelia Rosalind Fairweather"), "https://laurel.test/verify", {
    timeZone: "Europe/Berlin",
    design: sampleDesign(layout),
  });
  writeFileSync(join(dir, `${layout}.pdf`), pdf);
  execFileSync("pdftoppm", ["-png", "-r", process.env.DPI ?? "60", "-singlefile", join(dir, `${layout}.pdf`), join(process.env.OUT ?? "docs/designs", `certificate-${layout}`)]);
}
console.log(dir);
