// What a certificate design is: one of the built-in layouts, two colours, the tenant's logo, a
// background and up to three signatures. This file owns the rules (which layouts, which colours, how
// long a text) and the typed errors that say which rule an input broke; service.ts stores designs.
import { ExpectedError, ValidationError } from "../../errors.js";
import { nfc, personNameProblem, textProblem } from "../../lib/text.js";
import { layoutText } from "../../lib/text-layout/layout.js";

export const LAYOUTS = ["classic", "modern", "minimal"] as const;
export type Layout = (typeof LAYOUTS)[number];
/** A design that is the tenant's own SVG with merge fields (custom.ts) instead of a built-in layout. */
export const CUSTOM = "custom";
export const MAX_SIGNATURES = 3;
/** Longest signatory name and title, in code points: both must fit a signature line of ~200 points. */
export const MAX_SIGNATORY_NAME = 80;
export const MAX_SIGNATORY_TITLE = 120;

/** Each layout's colours when a design names none: [primary, accent], as #rrggbb. */
export const DEFAULT_COLORS: Record<Layout, readonly [string, string]> = {
  classic: ["#1f4e79", "#b08d57"],
  modern: ["#0f766e", "#f59e0b"],
  minimal: ["#111827", "#2563eb"],
};

export interface Signature {
  /** An uploaded image (the tenant's own) of the signature, drawn above the name; optional. */
  imageId: string | null;
  name: string;
  title: string;
}

/** A design as stored (sql/042 certificate_designs) and returned by the API. Colours are lower-case #rrggbb. */
export interface CertificateDesign {
  templateId: string;
  layout: Layout | typeof CUSTOM;
  /** The uploaded SVG of a custom design (layout "custom"); null for the built-in layouts. */
  customSvgImageId: string | null;
  primaryColor: string;
  accentColor: string;
  logoImageId: string | null;
  backgroundImageId: string | null;
  signatures: Signature[];
}

/** What setCertificateDesign accepts: the layout as text (an unknown one is a typed error), colours optional. */
export interface CertificateDesignInput {
  layout: string;
  primaryColor?: string | null;
  accentColor?: string | null;
  logoImageId?: string | null;
  backgroundImageId?: string | null;
  signatures?: { imageId?: string | null; name: string; title: string }[] | null;
  customSvgImageId?: string | null;
}

/** The layout given is not one of LAYOUTS. */
export class UnknownLayoutError extends ExpectedError {
  override name = "UnknownLayoutError";
  readonly layouts = [...LAYOUTS, CUSTOM];
  constructor(readonly layout: string) {
    super(`Unknown layout "${layout.slice(0, 40)}": choose one of ${[...LAYOUTS, CUSTOM].join(", ")}`);
  }
}

/** A colour that is not #rrggbb (six hex digits; "#abc", names and rgb() are refused). */
export class InvalidColorError extends ExpectedError {
  override name = "InvalidColorError";
  constructor(
    readonly field: string,
    readonly value: string,
  ) {
    super(`${field} must be a colour written #rrggbb (six hexadecimal digits), not "${value.slice(0, 40)}"`);
  }
}

/** An image id that names no image of the caller's tenant: missing, or another tenant's (indistinguishable). */
export class DesignImageNotFoundError extends ExpectedError {
  override name = "DesignImageNotFoundError";
  constructor(
    readonly field: string,
    readonly imageId: string,
  ) {
    super(`${field}: no image ${imageId.slice(0, 40)} among this organisation's uploads (upload it with uploadImage first)`);
  }
}

/** More than MAX_SIGNATURES signatures. */
export class TooManySignaturesError extends ExpectedError {
  override name = "TooManySignaturesError";
  readonly max = MAX_SIGNATURES;
  constructor(readonly given: number) {
    super(`A certificate has room for at most ${MAX_SIGNATURES} signatures, not ${given}`);
  }
}

/** A signatory's name or title longer than its limit (code points). */
export class DesignTextTooLongError extends ExpectedError {
  override name = "DesignTextTooLongError";
  constructor(
    readonly field: string,
    readonly maxLength: number,
  ) {
    super(`${field} may have at most ${maxLength} characters`);
  }
}

const COLOR = /^#[0-9a-fA-F]{6}$/;

function color(field: string, value: string | null | undefined, fallback: string): string {
  if (value === null || value === undefined) return fallback;
  if (!COLOR.test(value.trim())) throw new InvalidColorError(field, value);
  return value.trim().toLowerCase();
}

function line(field: string, value: string, max: number, required: boolean): string {
  const problem = textProblem(value);
  if (problem) throw ValidationError.field(field.split("."), problem);
  const text = nfc(value).trim();
  if (!text && !required) return "";
  if ([...text].length > max) throw new DesignTextTooLongError(field, max);
  const nameProblem = personNameProblem(text);
  if (nameProblem) throw ValidationError.field(field.split("."), nameProblem.replace(/^A name/, "This text"));
  // What no embedded face can draw would print as boxes: refuse it now, not at every download.
  const unprintable = layoutText(text, { maxWidth: 1000, size: 10 }).unprintable;
  if (unprintable.length) throw ValidationError.field(field.split("."), `No font Laurel embeds can print ${unprintable.join(" ")}`);
  return text;
}

/**
 * Checks and normalises a design input (before its image ids are looked up): layout known, colours
 * #rrggbb (lower-cased; a missing one takes the layout's default), at most three signatures, each
 * name 1-80 and title 0-120 code points of printable one-line text (NFC, trimmed).
 * @throws UnknownLayoutError, InvalidColorError, TooManySignaturesError, DesignTextTooLongError,
 *   ValidationError (empty name, control characters, unprintable characters).
 */
export function checkDesign(templateId: string, input: CertificateDesignInput): CertificateDesign {
  const layout = input.layout.trim().toLowerCase();
  if (layout !== CUSTOM && !(LAYOUTS as readonly string[]).includes(layout)) throw new UnknownLayoutError(input.layout);
  const customSvgImageId = input.customSvgImageId?.trim() || null;
  if (layout === CUSTOM && !customSvgImageId) throw ValidationError.field(["customSvgImageId"], "A custom design needs customSvgImageId: an SVG uploaded with uploadImage");
  if (layout !== CUSTOM && customSvgImageId) throw ValidationError.field(["customSvgImageId"], "customSvgImageId is for layout custom only");
  const [primary, accent] = DEFAULT_COLORS[layout === CUSTOM ? "classic" : (layout as Layout)];
  const signatures = input.signatures ?? [];
  if (signatures.length > MAX_SIGNATURES) throw new TooManySignaturesError(signatures.length);
  return {
    templateId,
    layout: layout as Layout | typeof CUSTOM,
    customSvgImageId,
    primaryColor: color("primaryColor", input.primaryColor, primary),
    accentColor: color("accentColor", input.accentColor, accent),
    logoImageId: input.logoImageId?.trim() || null,
    backgroundImageId: input.backgroundImageId?.trim() || null,
    signatures: signatures.map((s, i) => ({
      imageId: s.imageId?.trim() || null,
      name: line(`signatures.${i}.name`, s.name, MAX_SIGNATORY_NAME, true),
      title: line(`signatures.${i}.title`, s.title, MAX_SIGNATORY_TITLE, false),
    })),
  };
}

/** The design of a template that has none: classic, its default colours, no images, no signatures. */
export function defaultDesign(templateId: string): CertificateDesign {
  const [primaryColor, accentColor] = DEFAULT_COLORS.classic;
  return { templateId, layout: "classic", customSvgImageId: null, primaryColor, accentColor, logoImageId: null, backgroundImageId: null, signatures: [] };
}

/** An image's bytes and sniffed type, as the PDF draws it. */
export interface DesignImage {
  contentType: string;
  bytes: Buffer;
}

/** A design with its images loaded: what certificatePdf draws. A missing image is null (not drawn). */
export interface RenderDesign {
  layout: Layout;
  primaryColor: string;
  accentColor: string;
  logo: DesignImage | null;
  background: DesignImage | null;
  signatures: { image: DesignImage | null; name: string; title: string }[];
  /** A custom design's SVG (UTF-8 text, checked again by custom.ts when drawn); `layout` is then only a fallback. */
  customSvg?: string | null;
}

/** What a certificate without a chosen design is drawn in: classic, its colours, no images. */
export function defaultRenderDesign(): RenderDesign {
  const [primaryColor, accentColor] = DEFAULT_COLORS.classic;
  return { layout: "classic", primaryColor, accentColor, logo: null, background: null, signatures: [] };
}
