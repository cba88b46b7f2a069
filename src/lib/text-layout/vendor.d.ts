// Types for the two small Unicode libraries that ship none (both are fontkit's and pdfkit's own deps).
declare module "unicode-properties" {
  /** The Unicode Script property value of a code point, e.g. "Latin", "Arabic", "Common". */
  export function getScript(codePoint: number): string;
}

declare module "linebreak" {
  /** UAX #14 line breaking: each call gives the next break opportunity, null at the end. */
  export default class LineBreaker {
    constructor(text: string);
    nextBreak(): { position: number; required: boolean } | null;
  }
}
