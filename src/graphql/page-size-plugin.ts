// `first`/`last` above the page limit are refused with a clear error, not silently clamped: a client
// that asks for 500 and gets 100 would believe it has everything.
import { Kind, visit, type ArgumentNode, type DocumentNode, type ValueNode } from "graphql";
import type { Plugin } from "graphql-yoga";
import { badInput } from "../errors.js";

/**
 * Refuses `first`/`last` arguments above `max` (or below 0) with BAD_USER_INPUT before execution.
 * Fields named in `checkedByField` validate their own `first` (with a typed ValidationError and their
 * own bounds, e.g. 1..100 for analytics rankings) and are left to it, so one limit has one message.
 */
export function usePageSizeLimit(max: number, checkedByField: ReadonlySet<string> = new Set()): Plugin {
  // Where a document says `first`/`last` depends on the document only: found once per parsed document
  // (yoga's parser cache hands the same DocumentNode back for the same text), checked per request.
  const pageArguments = new WeakMap<DocumentNode, ArgumentNode[]>();
  const argumentsOf = (document: DocumentNode): ArgumentNode[] => {
    let found = pageArguments.get(document);
    if (!found) {
      const list: ArgumentNode[] = [];
      visit(document, {
        Field(field) {
          if (checkedByField.has(field.name.value)) return;
          for (const node of field.arguments ?? []) if (node.name.value === "first" || node.name.value === "last") list.push(node);
        },
      });
      pageArguments.set(document, (found = list));
    }
    return found;
  };
  return {
    onExecute({ args }) {
      const found = argumentsOf(args.document);
      if (found.length === 0) return;
      const variables = (args.variableValues ?? {}) as Record<string, unknown>;
      const valueOf = (node: ValueNode): unknown =>
        node.kind === Kind.INT ? Number(node.value) : node.kind === Kind.VARIABLE ? variables[node.name.value] : undefined;
      for (const node of found) {
        const value = valueOf(node.value);
        if (typeof value === "number" && (value > max || value < 0)) {
          throw badInput(`'${node.name.value}' must be between 0 and ${max}, got ${value}`);
        }
      }
    },
  };
}
