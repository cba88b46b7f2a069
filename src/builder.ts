// The Pothos SchemaBuilder and its plugins. Defines no types: modules do.
import SchemaBuilder from "@pothos/core";
import ScopeAuthPlugin from "@pothos/plugin-scope-auth";
import ErrorsPlugin from "@pothos/plugin-errors";
import PrismaPlugin from "@pothos/plugin-prisma";
import RelayPlugin from "@pothos/plugin-relay";
import ComplexityPlugin, { ComplexityErrorKind } from "@pothos/plugin-complexity";
import SimpleObjectsPlugin from "@pothos/plugin-simple-objects";
import { GraphQLError } from "graphql";
import { DateTimeResolver, JSONResolver, URLResolver, UUIDResolver } from "graphql-scalars";
import type PrismaTypes from "./generated/pothos-types.js";
import type { PrismaClient } from "./generated/prisma/client.js";
import { getDatamodel } from "./generated/pothos-types.js";
import type { Context } from "./context.js";
import type { Permission } from "./modules/auth/permissions.js";
import { forbidden, unauthenticated, ValidationError } from "./errors.js";
import RollbackOnErrorPlugin from "./graphql/rollback-plugin.js";
import TextInputPlugin from "./graphql/text-inputs.js";
import { EmailAddressScalar } from "./graphql/email-address-scalar.js";

export const LIMITS = { maxPageSize: 100, defaultPageSize: 20, maxDepth: 12, maxComplexity: 5000, maxBreadth: 200 };

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  AuthScopes: { signedIn: boolean; user: boolean; tenant: boolean; permission: Permission };
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    EmailAddress: { Input: string; Output: string };
    UUID: { Input: string; Output: string };
    URL: { Input: URL; Output: URL | string };
    JSON: { Input: unknown; Output: unknown };
    File: { Input: File; Output: never };
  };
  DefaultFieldNullability: false;
  DefaultEdgesNullability: false;
  DefaultNodeNullability: false;
}>({
  defaultFieldNullability: false,
  // TextInputPlugin sits inside ErrorsPlugin, so the ValidationError it throws becomes a typed result.
  plugins: [ScopeAuthPlugin, ErrorsPlugin, TextInputPlugin, SimpleObjectsPlugin, PrismaPlugin, RelayPlugin, ComplexityPlugin, RollbackOnErrorPlugin],
  scopeAuth: {
    authScopes: (ctx) => ({
      signedIn: ctx.viewer.kind !== "anonymous",
      user: ctx.viewer.kind === "user",
      tenant: ctx.tenantId !== null,
      permission: (p: Permission) => ctx.permissions.has(p),
    }),
    unauthorizedError: (_parent, ctx) => (ctx.viewer.kind === "anonymous" ? unauthenticated() : forbidden()),
    // A subscription's scopes are checked when it starts, before its subscribe function reads anything.
    authorizeOnSubscribe: true,
  },
  // Any argument may hold text that is not text (graphql/text-inputs.ts): every field with typed errors can say so.
  errors: { directResult: true, defaultTypes: [ValidationError] },
  prisma: {
    // The operation's transaction client; Pothos only calls model delegates on it.
    client: (ctx) => ctx.db as unknown as PrismaClient,
    dmmf: getDatamodel(),
    exposeDescriptions: false,
    filterConnectionTotalCount: true,
    maxConnectionSize: LIMITS.maxPageSize,
    defaultConnectionSize: LIMITS.defaultPageSize,
    onUnusedQuery: null,
  },
  relay: {
    clientMutationId: "omit",
    cursorType: "String",
    edgesFieldOptions: { nullable: false },
    nodeFieldOptions: { nullable: false },
    // Every node belongs to a tenant: an anonymous caller has no table to look in.
    nodeQueryOptions: { authScopes: { signedIn: true } },
    nodesQueryOptions: { authScopes: { signedIn: true } },
  },
  complexity: {
    defaultComplexity: 1,
    defaultListMultiplier: 1, // connections multiply by their page size (modules/common/nodes.ts)
    limit: { depth: LIMITS.maxDepth, complexity: LIMITS.maxComplexity, breadth: LIMITS.maxBreadth },
    complexityError: (kind, result) =>
      new GraphQLError(
        kind === ComplexityErrorKind.Depth
          ? `Query is too deep: depth ${result.depth} exceeds the limit of ${result.maxDepth}`
          : kind === ComplexityErrorKind.Breadth
            ? `Query selects too many fields: ${result.breadth} exceeds the limit of ${result.maxBreadth}`
            : `Query is too expensive: cost ${result.complexity} exceeds the limit of ${result.maxComplexity}`,
        { extensions: { code: "QUERY_TOO_COMPLEX", kind, ...result } },
      ),
  },
});

builder.addScalarType("DateTime", DateTimeResolver);
builder.addScalarType("EmailAddress", EmailAddressScalar);
builder.addScalarType("UUID", UUIDResolver);
builder.addScalarType("URL", URLResolver);
builder.addScalarType("JSON", JSONResolver);

builder.queryType({});
builder.mutationType({});
