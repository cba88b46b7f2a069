// Types for svg-to-pdfkit, which ships none: the options parts.ts passes.
declare module "svg-to-pdfkit" {
  interface SvgToPdfOptions {
    width?: number;
    height?: number;
    preserveAspectRatio?: string;
    /** Treat SVG units as points (default: pixels, 72/96 pt). */
    assumePt?: boolean;
    warningCallback?: (message: string) => void;
    /** Turns an <image> href into what pdfkit's openImage accepts (a path would be read from disk). */
    imageCallback?: (href: string) => string | Buffer;
    /** Turns a font-family into a name registered with the document. */
    fontCallback?: (family: string, bold: boolean, italic: boolean, options: { fauxBold: boolean; fauxItalic: boolean }) => string;
    /** Loads an external document named by <use href="file.svg#id">; null: none. */
    documentCallback?: (file: string) => unknown;
  }
  export default function SVGtoPDF(doc: PDFKit.PDFDocument, svg: string, x?: number, y?: number, options?: SvgToPdfOptions): void;
}
