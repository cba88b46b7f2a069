// Sample material for certificate design tests and the README pictures: a credential as the public
// route loads it, a vector logo, two handwritten-looking signatures, a PNG made here (no binary fixture).
import { PNG } from "pngjs";
import type { PublicCredential } from "../../src/modules/credentials/public.js";
import type { DesignImage, Layout, RenderDesign } from "../../src/modules/designs/design.js";
import { DEFAULT_COLORS } from "../../src/modules/designs/design.js";

export const SAMPLE_TENANT = "5b0f7c0e-3c1a-4f7e-9a39-3f1f7a0c2d11";
export const SAMPLE_CREDENTIAL = "0e9a4c3b-7d2f-4b8a-a1c6-55e2f1b9d3a7";
export const SAMPLE_URL = `https://laurel.test/issuers/${SAMPLE_TENANT}/credentials/${SAMPLE_CREDENTIAL}`;

/** A credential as certificatePdf gets it, naming `name` (null: no name). */
export function sampleCredential(name: string | null, status: PublicCredential["status"] = "ACTIVE"): PublicCredential {
  const document = {
    id: SAMPLE_URL,
    name: "Advanced Welding",
    description: "For completing the 120-hour advanced welding programme, including TIG and MIG techniques on steel and aluminium.",
    issuer: { name: "Northwind Technical Academy" },
    validFrom: "2026-01-01T09:30:00Z",
    validUntil: "2028-12-31T23:00:00Z",
    credentialSubject: {
      identifier: name === null ? [] : [{ type: "IdentityObject", identityType: "name", hashed: false, identityHash: name }],
      achievement: { name: "Advanced Welding", criteria: { narrative: "Passed the practical and the written examination." } },
    },
  };
  return { document, status, validFrom: new Date(document.validFrom), validUntil: new Date(document.validUntil), revokedAt: null, suspendedAt: null, revocationReason: null, timeZone: "Europe/Berlin" };
}

export const LOGO_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 320 96" width="320" height="96">
  <circle cx="48" cy="48" r="40" fill="#1f4e79"/><path d="M28 60 L48 24 L68 60 Z" fill="#f5c542"/>
  <rect x="104" y="30" width="196" height="12" rx="6" fill="#1f4e79"/><rect x="104" y="54" width="140" height="10" rx="5" fill="#7a8ca3"/>
</svg>`;

const signatureSvg = (d: string) => `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 60"><path d="${d}" fill="none" stroke="#1b2a4a" stroke-width="2.5" stroke-linecap="round"/></svg>`;
export const SIGNATURE_SVGS = [
  signatureSvg("M10 40 C 30 5, 45 55, 60 30 S 90 10, 100 35 S 130 50, 150 20 L 190 28"),
  signatureSvg("M12 35 Q 30 10 40 38 T 70 30 Q 85 15 95 40 C 110 55 140 5 160 30 L 185 32"),
];

/** A small PNG: a soft diagonal gradient, for backgrounds and PNG logos. */
export function samplePng(width = 64, height = 64, from = [240, 244, 250], to = [222, 230, 242]): Buffer {
  const png = new PNG({ width, height });
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const t = (x + y) / (width + height);
      const i = (y * width + x) * 4;
      for (let c = 0; c < 3; c++) png.data[i + c] = Math.round(from[c]! + (to[c]! - from[c]!) * t);
      png.data[i + 3] = 255;
    }
  return PNG.sync.write(png);
}

const svg = (text: string): DesignImage => ({ contentType: "image/svg+xml", bytes: Buffer.from(text) });

/** A dressed design of `layout`: logo, two signatures with images and one without. */
export function sampleDesign(layout: Layout, extra: Partial<RenderDesign> = {}): RenderDesign {
  const [primaryColor, accentColor] = DEFAULT_COLORS[layout];
  return {
    layout,
    primaryColor,
    accentColor,
    logo: svg(LOGO_SVG),
    background: null,
    signatures: [
      { image: svg(SIGNATURE_SVGS[0]!), name: "Dr. Maria Keller", title: "Director of Studies" },
      { image: svg(SIGNATURE_SVGS[1]!), name: "Jonas Weber", title: "Head of Welding Technology" },
      { image: null, name: "Aiko Tanaka", title: "External Examiner" },
    ],
    ...extra,
  };
}
