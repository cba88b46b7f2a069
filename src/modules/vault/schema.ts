// Keys as GraphQL: dataProtection shows the tenant's data-key versions and its latest rotation's
// progress (owners and admins: keys:read); rotateDataKey starts a rotation (the owner: keys:rotate).
// No field ever returns key material, wrapped or not.
import { builder } from "../../builder.js";
import type { Db } from "../../db/tenant-transaction.js";
import { recordAudit } from "../audit/service.js";
import { callerOf } from "../common/caller.js";
import { dataProtection, type RotationView } from "./status.js";
import { startRotation } from "./rotation.js";
import { vaultOf } from "./vault.js";

const StateEnum = builder.enumType("DataKeyRotationState", {
  values: ["running", "completed", "failed"] as const,
  description: "running -> completed | failed; a running rotation whose worker died resumes where it stopped",
});

const TableProgressRef = builder.simpleObject("DataKeyRotationTable", {
  fields: (t) => ({
    table: t.string({ description: "A table holding sealed fields" }),
    done: t.float({ description: "Rows re-sealed so far (a row re-sealed again by the final pass counts twice)" }),
    total: t.float({ description: "Rows to re-seal: counted when the rotation started, again when the new key activated, and grown by rows written under the old key since" }),
  }),
});

const RotationRef = builder.objectRef<RotationView>("DataKeyRotation").implement({
  description: "One data-key rotation: a new key seals new data, the worker re-seals every row, then the old key is erased",
  fields: (t) => ({
    id: t.exposeID("id"),
    fromVersion: t.exposeInt("fromVersion"),
    toVersion: t.exposeInt("toVersion"),
    state: t.field({ type: StateEnum, resolve: (r) => r.state }),
    reason: t.exposeString("reason", { description: "scheduled (LAUREL_DATA_KEY_ROTATION_DAYS) or requested (rotateDataKey)" }),
    rowsDone: t.exposeFloat("rowsDone"),
    rowsTotal: t.exposeFloat("rowsTotal"),
    tables: t.field({ type: [TableProgressRef], resolve: (r) => r.tables }),
    startedAt: t.expose("startedAt", { type: "DateTime" }),
    activatesAt: t.expose("activatesAt", {
      type: "DateTime",
      nullable: true,
      description: "When the new key began (or begins) to seal new data: one key-cache lifetime and a commit margin after the start, so every process has it first. The re-seal starts then.",
    }),
    retireAfter: t.expose("retireAfter", { type: "DateTime", nullable: true, description: "The old key is erased no earlier than this (every process's key cache has expired)" }),
    finishedAt: t.expose("finishedAt", { type: "DateTime", nullable: true }),
    lastError: t.exposeString("lastError", { nullable: true }),
  }),
});

const DataProtectionRef = builder.simpleObject("DataProtection", {
  description: "How the tenant's personal data is sealed at rest: its data keys' versions and rotations",
  fields: (t) => ({
    currentKeyVersion: t.int({ description: "The data-key version sealing new data" }),
    currentKeyCreatedAt: t.field({ type: "DateTime" }),
    liveKeyVersions: t.intList({ description: "Versions still able to open data (more than one while a rotation runs)" }),
    rotationPeriodDays: t.int({ description: "The daily job rotates a data key this old (LAUREL_DATA_KEY_ROTATION_DAYS)" }),
    nextRotationDueAt: t.field({ type: "DateTime" }),
    legacyRows: t.float({ description: "Rows still in plain text from before sealing (the worker seals them)" }),
    lastRotation: t.field({ type: RotationRef, nullable: true }),
  }),
});

builder.queryField("dataProtection", (t) =>
  t.field({
    type: DataProtectionRef,
    description: "The tenant's data keys and the progress of its latest rotation (owners and admins).",
    authScopes: { permission: "keys:read" },
    resolve: (_root, _args, ctx) => dataProtection(ctx.db, vaultOf(ctx.db), ctx.tenantId!, ctx.app.config.queue.dataKeyRotationDays),
  }),
);

builder.mutationField("rotateDataKey", (t) =>
  t.field({
    type: RotationRef,
    description:
      "Starts a data-key rotation (owner only): new data is sealed under a new key at once, the worker re-seals existing rows in the background, and the old key is erased when none is left. A rotation already running is returned instead.",
    authScopes: { permission: "keys:rotate" },
    resolve: async (_root, _args, ctx) => {
      const caller = callerOf(ctx);
      const userId = caller.actor.kind === "user" ? caller.actor.id : null;
      const { id, created } = await startRotation(ctx.db, vaultOf(ctx.db), caller.tenantId, { reason: "requested", userId });
      if (created) await recordAudit(ctx.db, caller, { action: "vault.data_key_rotation_started", targetType: "DataKeyRotation", targetId: id });
      return rotationById(ctx.db, caller.tenantId, id, ctx.app.config.queue.dataKeyRotationDays);
    },
  }),
);

async function rotationById(db: Db, tenantId: string, id: string, days: number): Promise<RotationView> {
  const status = await dataProtection(db, vaultOf(db), tenantId, days);
  if (status.lastRotation?.id !== id) throw new Error(`rotation ${id} is not the tenant's latest`);
  return status.lastRotation;
}
