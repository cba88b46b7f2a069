// Uploaded badge images: PNG or SVG, checked by content (not by name), size-limited, stored in the
// database and served publicly under the tenant's id.
import { pngDimensions } from "../../lib/raster.js";
import { createHash } from "node:crypto";
import type { Db } from "../../db/tenant-transaction.js";
import { ValidationError } from "../../errors.js";
import { recordAudit } from "../audit/service.js";
import type { Caller } from "../common/caller.js";
import { parseSvg, SvgError } from "../credentials/baking.js";

export const MAX_IMAGE_BYTES = 1024 * 1024;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function sniffImage(bytes: Buffer): "image/png" | "image/svg+xml" | null {
  if (bytes.subarray(0, 8).equals(PNG_SIGNATURE)) return "image/png";
  const head = bytes.subarray(0, 2048).toString("utf8").replace(/^\uFEFF/, "").trimStart();
  if (/^(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*(<!DOCTYPE svg[^>[]*(\[[\s\S]*?\]\s*)?>\s*)?(<!--[\s\S]*?-->\s*)*<svg[\s>]/i.test(head)) return "image/svg+xml";
  return null;
}

export const imageUrl = (publicUrl: string, tenantId: string, imageId: string) => `${publicUrl}/images/${tenantId}/${imageId}`;

export async function uploadImage(db: Db, caller: Caller, bytes: Buffer) {
  if (bytes.length === 0) throw ValidationError.field(["file"], "The file is empty");
  if (bytes.length > MAX_IMAGE_BYTES) throw ValidationError.field(["file"], `Images may be at most ${MAX_IMAGE_BYTES / 1024} KB`);
  const contentType = sniffImage(bytes);
  if (!contentType) throw ValidationError.field(["file"], "Upload a PNG or an SVG image");
  // Decoded, a PNG takes width × height × 4 bytes whatever its file size: a 1 MB file can claim gigabytes.
  if (contentType === "image/png" && !pngDimensions(bytes)) throw ValidationError.field(["file"], "PNG images may be at most 4096×4096 pixels");
  if (contentType === "image/svg+xml") {
    try {
      parseSvg(bytes.toString("utf8")); // what cannot be parsed now could not be baked later
    } catch (error) {
      if (error instanceof SvgError) throw ValidationError.field(["file"], error.message);
      throw error;
    }
  }
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const image = await db.image.create({
    data: { tenantId: caller.tenantId, contentType, bytes: new Uint8Array(bytes), sha256 },
    select: { id: true, contentType: true, sha256: true, createdAt: true },
  });
  await recordAudit(db, caller, { action: "image.uploaded", targetType: "Image", targetId: image.id, details: { contentType, bytes: bytes.length } });
  return { ...image, size: bytes.length };
}
