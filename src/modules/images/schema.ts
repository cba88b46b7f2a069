// Uploading badge images (GraphQL multipart request). The returned URL goes into a template's imageUrl.
import { builder } from "../../builder.js";
import { ValidationError } from "../../errors.js";
import { callerOf } from "../common/caller.js";
import { imageUrl, uploadImage } from "./service.js";

const ImageRef = builder.objectRef<{ id: string; contentType: string; sha256: string; size: number; createdAt: Date; url: string }>("Image").implement({
  fields: (t) => ({
    id: t.exposeString("id"),
    url: t.exposeString("url", { description: "Public URL; use it as a template's imageUrl" }),
    contentType: t.exposeString("contentType"),
    size: t.exposeInt("size"),
    sha256: t.exposeString("sha256"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

builder.mutationField("uploadImage", (t) =>
  t.field({
    type: ImageRef,
    description: "Stores a PNG or SVG (at most 1 MB) and returns its public URL.",
    authScopes: { permission: "issue" },
    errors: { types: [ValidationError] },
    args: { file: t.arg({ type: "File", required: true }) },
    resolve: async (_r, { file }, ctx) => {
      const caller = callerOf(ctx);
      const image = await uploadImage(ctx.db, caller, Buffer.from(await (file as File).arrayBuffer()));
      return { ...image, url: imageUrl(ctx.app.config.publicUrl, caller.tenantId, image.id) };
    },
  }),
);
