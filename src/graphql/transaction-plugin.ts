// One GraphQL operation, one tenant transaction. The transaction's first statement sets role and
// claims (db/tenant-transaction.ts); a mutation with any error is rolled back whole.
import { getOperationAST, Kind, type ExecutionResult } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { Context } from "../context.js";
import { actsAsNobody, claimsFor } from "../context.js";
import { withTenantTransaction } from "../db/tenant-transaction.js";
import { createLoaders } from "../loaders.js";

const ROLLBACK = Symbol("rollback");

export function useTenantTransaction(): Plugin<Context> {
  return {
    onExecute({ setExecuteFn, executeFn }) {
      setExecuteFn(async (args) => {
        const ctx = args.contextValue as Context;
        const ast = getOperationAST(args.document, args.operationName);
        const operation = ast?.operation;
        const rootFields = ast?.selectionSet.selections.map((s) => (s.kind === Kind.FIELD ? s.name.value : "")) ?? [];
        ctx.actsAsNobody = operation === "mutation" && ctx.viewer.kind !== "anonymous" && actsAsNobody(ctx.viewer, rootFields);
        let result: ExecutionResult | undefined;
        try {
          await withTenantTransaction(ctx.app.database, claimsFor(ctx), async (db) => {
            // withTenantTransaction may run this twice (a stale prepared statement): nothing the
            // rolled-back attempt asked for after commit may happen.
            ctx.afterCommit.length = 0;
            ctx.rollbackOnly = false;
            ctx.db = db;
            ctx.loaders = createLoaders(() => ctx.db, () => ctx.tenantId);
            result = (await executeFn(args)) as ExecutionResult;
            if (operation === "mutation" && (ctx.rollbackOnly || result.errors?.length)) throw ROLLBACK;
          });
        } catch (error) {
          if (error !== ROLLBACK) throw error;
          ctx.afterCommit.length = 0;
        }
        for (const callback of ctx.afterCommit.splice(0)) callback();
        return result!;
      });
    },
  };
}
