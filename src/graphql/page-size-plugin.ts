// `first`/`last` above the page limit are refused with a clear error, not silently clamped: a client
// that asks for 500 and gets 100 would believe it has everything.
import { getOperationAST, Kind, visit, type ArgumentNode, type DocumentNode, type FieldNode, type ValueNode } from "graphql";
import type { Plugin } from "graphql-yoga";
import { badInput } from "../errors.js";

/**
 * Refuses `first`/`last` arguments above `max` (or below 0) with BAD_USER_INPUT before execution.
 * Fields named in `checkedByField` validate their own `first` (with a typed ValidationError and their
 * own bounds, e.g. 1..100 for analytics rankings) and are left to it, so one limit has one message.
 */
export function usePageSizeLimit(max: number, checkedByField: ReadonlySet<string> = new Set()): Plugin {
  // Where an operation says `first`/`last`, and its variables' defaults, depend on the document only:
  // found once per parsed document and operation (yoga's parser cache hands the same DocumentNode back
  // for the same text), checked per request against that request's variables. Only the operation that
  // runs counts (with every fragment, used or not: a fragment's limit is refused even if unused).
  const analyses = new WeakMap<DocumentNode, Map<string, PageArguments>>();
  const analyse = (document: DocumentNode, operationName: string | null | undefined): PageArguments => {
    let byOperation = analyses.get(document);
    if (!byOperation) analyses.set(document, (byOperation = new Map()));
    const key = operationName ?? "";
    let found = byOperation.get(key);
    if (!found) {
      const operation = getOperationAST(document, operationName);
      const list: ArgumentNode[] = [];
      const defaults = new Map<string, unknown>();
      for (const definition of operation?.variableDefinitions ?? []) {
        if (definition.defaultValue?.kind === Kind.INT) defaults.set(definition.variable.name.value, Number(definition.defaultValue.value));
      }
      const visitor = {
        Field(field: FieldNode) {
          if (checkedByField.has(field.name.value)) return;
          for (const node of field.arguments ?? []) if (node.name.value === "first" || node.name.value === "last") list.push(node);
        },
      };
      if (operation) visit(operation, visitor);
      for (const definition of document.definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) visit(definition, visitor);
      byOperation.set(key, (found = { arguments: list, defaults }));
    }
    return found;
  };
  return {
    onExecute({ args }) {
      const found = analyse(args.document, args.operationName);
      if (found.arguments.length === 0) return;
      const variables = (args.variableValues ?? {}) as Record<string, unknown>;
      const valueOf = (node: ValueNode): unknown =>
        node.kind === Kind.INT
          ? Number(node.value)
          : node.kind === Kind.VARIABLE
            ? (node.name.value in variables ? variables[node.name.value] : found.defaults.get(node.name.value))
            : undefined;
      for (const node of found.arguments) {
        const value = valueOf(node.value);
        if (typeof value === "number" && (value > max || value < 0)) {
          throw badInput(`'${node.name.value}' must be between 0 and ${max}, got ${value}`);
        }
      }
    },
  };
}

interface PageArguments {
  arguments: ArgumentNode[];
  /** Int defaults of the operation's variables, used when a request leaves them out. */
  defaults: Map<string, unknown>;
}
