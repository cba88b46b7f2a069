// The tenant as its members see it, and the lists hanging off it.
import { builder } from "../../builder.js";
import { connectionComplexity, uuidKey } from "../common/nodes.js";
import { ValidationError } from "../../errors.js";
import { callerOf } from "../common/caller.js";
import { updateTenant } from "./service.js";

export const TenantRef = builder.prismaNode("Tenant", {
  id: { field: "id" },
  findUnique: (id) => uuidKey(id),
  nullable: true,
  authScopes: { tenant: true },
  fields: (t) => ({
    uuid: t.exposeString("id", { description: "The tenant's UUID, as used in tokens and URLs" }),
    name: t.exposeString("name"),
    slug: t.exposeString("slug"),
    timeZone: t.exposeString("timeZone", {
      description: "IANA time zone (default UTC) in which calendar dates are shown (pages, certificates, emails, LinkedIn) and date-only inputs are read",
    }),
    minimumGroupSize: t.exposeInt("minimumGroupSize", {
      description:
        "Analytics cells counting fewer distinct credentials than this are returned with their numbers null and suppressed: true (1, the default: off). " +
        "Readable with the analytics or tenant:manage permission.",
      authScopes: (_tenant, _args, ctx) => ctx.permissions.has("analytics") || ctx.permissions.has("tenant:manage"),
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    members: t.relatedConnection("memberships", {
      cursor: "tenantId_id",
      nullable: true,
      authScopes: { permission: "members:read" },
      totalCount: true,
      complexity: connectionComplexity,
      query: () => ({ orderBy: [{ createdAt: "asc" }, { id: "asc" }] }),
    }),
  }),
});

builder.queryField("tenant", (t) =>
  t.prismaField({
    type: "Tenant",
    description: "The tenant the caller acts for.",
    authScopes: { tenant: true, permission: "tenant:read" },
    resolve: (query, _root, _args, ctx) => ctx.db.tenant.findUniqueOrThrow({ ...query, where: { id: ctx.tenantId! } }),
  }),
);

const UpdateTenantInput = builder.inputType("UpdateTenantInput", {
  fields: (t) => ({
    name: t.string(),
    timeZone: t.string({ description: 'An IANA time zone the server knows, e.g. "Australia/Sydney"; "UTC" by default' }),
    minimumGroupSize: t.int({ description: "1 to 1,000: analytics hide cells counting fewer distinct credentials (1: off)" }),
  }),
});

builder.mutationField("updateTenant", (t) =>
  t.prismaField({
    type: "Tenant",
    authScopes: { permission: "tenant:manage" },
    errors: { types: [ValidationError] },
    args: { input: t.arg({ type: UpdateTenantInput, required: true }) },
    resolve: (query, _root, { input }, ctx) => updateTenant(ctx.db, callerOf(ctx), input, query),
  }),
);
