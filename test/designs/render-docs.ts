// Renders each built-in design with sample data into docs/designs/certificate-<layout>.png for the
// README, with the PNG renderer (certificatePng: the same layouts as the PDF, drawn as SVG and
// rasterised by resvg), at the size the README shows: `npx tsx test/designs/render-docs.ts`.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { certificatePng } from "../../src/modules/credentials/certificate-pdf.js";
import { LAYOUTS, type Layout } from "../../src/modules/designs/design.js";
import { PAGE } from "../../src/modules/designs/layouts.js";
import { sampleCredential, sampleDesign } from "./samples.js";

// 60 dpi, as the pictures were when they came from the PDF: A4 landscape 702 px wide, portrait 497 px.
const width = (layout: Layout) => (PAGE[layout].layout === "landscape" ? 702 : 497);
for (const layout of LAYOUTS) {
  const png = await certificatePng(sampleCredential(process.env.NAME ?? "Amelia Rosalind Fairweather"), "https://laurel.test/verify", {
    timeZone: "Europe/Berlin",
    design: sampleDesign(layout),
    width: width(layout),
  });
  writeFileSync(join(process.env.OUT ?? "docs/designs", `certificate-${layout}.png`), png);
}
