// Text rules (src/lib/text.ts) for every GraphQL argument, in one place. Before execution every string
// in the variables and the document is put in NFC. A field that can answer ValidationError gets one
// naming each offending argument path (TextInputPlugin, around its resolver); any other field with
// such an argument (a query, a nested list's filter) refuses the operation with BAD_USER_INPUT before
// anything runs, since PostgreSQL cannot even compare such text.
import SchemaBuilder, { BasePlugin, type PothosOutputFieldConfig, type SchemaTypes } from "@pothos/core";
import {
  GraphQLError, Kind, TypeInfo, visit, visitWithTypeInfo,
  type ArgumentNode, type DocumentNode, type GraphQLField, type GraphQLFieldResolver, type GraphQLSchema, type ValueNode,
} from "graphql";
import type { Plugin } from "graphql-yoga";
import { ValidationError, type FieldProblem } from "../errors.js";
import { nfc, nfcTree, textProblem, textProblemsIn } from "../lib/text.js";

/** Fields whose errors include ValidationError answer bad text themselves, with its path. */
export function answersBadText(extensions: Readonly<Record<string, unknown>> | null | undefined): boolean {
  const errors = extensions?.pothosErrors as unknown[] | undefined;
  return Boolean(errors?.includes(ValidationError));
}

/** A copy of `args` without the value at `path` (checked later, e.g. per bulk row). */
function without(args: Record<string, unknown>, path: string[]): Record<string, unknown> {
  const [head, ...rest] = path;
  if (!head || !(head in args)) return args;
  const inner = args[head];
  const copy = { ...args };
  if (rest.length && inner && typeof inner === "object" && !Array.isArray(inner)) copy[head] = without(inner as Record<string, unknown>, rest);
  else delete copy[head];
  return copy;
}

export class TextInputPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override wrapResolve(
    resolver: GraphQLFieldResolver<unknown, Types["Context"], object>,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types["Context"], object> {
    if (!answersBadText(fieldConfig.extensions) || Object.keys(fieldConfig.args).length === 0) return resolver;
    const perRow = fieldConfig.extensions?.textCheckedPerRow as string[] | undefined;
    return (parent, args, context, info) => {
      const problems: FieldProblem[] = textProblemsIn(perRow ? without(args as Record<string, unknown>, perRow) : args);
      if (problems.length) {
        const first = problems[0]!;
        throw new ValidationError(`${first.path.join(".")}: ${first.message}`, problems);
      }
      return resolver(parent, args, context, info);
    };
  }
}

const pluginName = "laurelTextInputs";
SchemaBuilder.registerPlugin(pluginName, TextInputPlugin);
export default pluginName;

declare global {
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      laurelTextInputs: TextInputPlugin<Types>;
    }
  }
}

// Both walks below depend on the document (and schema) only: done once per parsed document (yoga's parser
// cache hands the same DocumentNode back for the same text), so a request only reads its variables.
const normalisedDocuments = new WeakMap<DocumentNode, DocumentNode>();

function nfcDocument(document: DocumentNode): DocumentNode {
  let normalised = normalisedDocuments.get(document);
  if (!normalised) {
    normalised = visit(document, {
      StringValue(node) {
        if (textProblem(node.value)) return undefined;
        const value = nfc(node.value);
        return value === node.value ? undefined : { ...node, value };
      },
    });
    normalisedDocuments.set(document, normalised);
    normalisedDocuments.set(normalised, normalised);
  }
  return normalised;
}

function stringsIn(node: ValueNode, variables: Record<string, unknown>): unknown[] {
  switch (node.kind) {
    case Kind.STRING:
      return [node.value];
    case Kind.VARIABLE:
      return [variables[node.name.value]];
    case Kind.LIST:
      return node.values.flatMap((v) => stringsIn(v, variables));
    case Kind.OBJECT:
      return node.fields.flatMap((f) => stringsIn(f.value, variables));
    default:
      return [];
  }
}

/** An argument of a field that cannot answer ValidationError, and how an error names it. */
interface UncheckedArgument {
  node: ArgumentNode;
  where: string;
}
const uncheckedArguments = new WeakMap<GraphQLSchema, WeakMap<DocumentNode, UncheckedArgument[]>>();

function uncheckedArgumentsOf(schema: GraphQLSchema, document: DocumentNode): UncheckedArgument[] {
  let bySchema = uncheckedArguments.get(schema);
  if (!bySchema) uncheckedArguments.set(schema, (bySchema = new WeakMap()));
  let found = bySchema.get(document);
  if (found) return found;
  const typeInfo = new TypeInfo(schema);
  const list: UncheckedArgument[] = [];
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Argument(node) {
        if (typeInfo.getDirective()) return;
        const field = typeInfo.getFieldDef() as GraphQLField<unknown, unknown> | null;
        if (!field || answersBadText(field.extensions)) return;
        list.push({ node, where: `${typeInfo.getParentType()?.name ?? "?"}.${field.name}(${node.name.value})` });
      },
    }),
  );
  bySchema.set(document, (found = list));
  return found;
}

/** The first argument, of a field that cannot answer ValidationError, that holds something not text. */
function unansweredBadText(schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown>): GraphQLError | null {
  for (const { node, where } of uncheckedArgumentsOf(schema, document)) {
    const problem = stringsIn(node.value, variables).flatMap((v) => textProblemsIn(v))[0];
    if (problem) return new GraphQLError(`Argument ${where}: ${problem.message}`, { nodes: [node], extensions: { code: "BAD_USER_INPUT", argument: node.name.value } });
  }
  return null;
}

export function useTextInputs(): Plugin {
  const guard = ({ args, setResultAndStopExecution }: { args: { schema: GraphQLSchema; document: DocumentNode; variableValues?: unknown }; setResultAndStopExecution: (r: { errors: GraphQLError[] }) => void }) => {
    const variables = nfcTree((args.variableValues ?? {}) as Record<string, unknown>);
    args.variableValues = variables;
    args.document = nfcDocument(args.document);
    const error = unansweredBadText(args.schema, args.document, variables);
    if (error) setResultAndStopExecution({ errors: [error] });
  };
  return { onExecute: guard as never, onSubscribe: guard as never };
}
