// `first`/`last` above the page limit are refused with a clear error, not silently clamped: a client
// that asks for 500 and gets 100 would believe it has everything.
import { Kind, visit, type ValueNode } from "graphql";
import type { Plugin } from "graphql-yoga";
import { badInput } from "../errors.js";

export function usePageSizeLimit(max: number): Plugin {
  return {
    onExecute({ args }) {
      const variables = (args.variableValues ?? {}) as Record<string, unknown>;
      const valueOf = (node: ValueNode): unknown =>
        node.kind === Kind.INT ? Number(node.value) : node.kind === Kind.VARIABLE ? variables[node.name.value] : undefined;
      visit(args.document, {
        Argument(node) {
          if (node.name.value !== "first" && node.name.value !== "last") return;
          const value = valueOf(node.value);
          if (typeof value === "number" && (value > max || value < 0)) {
            throw badInput(`'${node.name.value}' must be between 0 and ${max}, got ${value}`);
          }
        },
      });
    },
  };
}
