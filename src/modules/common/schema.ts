// The error result types every module shares. A module adds its own next to its mutations.
import { builder } from "../../builder.js";
import { ExpectedError, NotFoundError, ValidationError } from "../../errors.js";

export const ErrorInterface = builder.interfaceRef<ExpectedError>("Error").implement({
  description: "An expected failure the caller can act on. Nothing was written.",
  fields: (t) => ({ message: t.exposeString("message") }),
});

const FieldProblemRef = builder.objectRef<{ path: string[]; message: string }>("FieldProblem").implement({
  fields: (t) => ({
    path: t.exposeStringList("path", { description: "Input path of the offending value, e.g. ['input', 'email']" }),
    message: t.exposeString("message"),
  }),
});

builder.objectType(ValidationError, {
  name: "ValidationError",
  interfaces: [ErrorInterface],
  fields: (t) => ({ fieldErrors: t.field({ type: [FieldProblemRef], resolve: (e) => e.fieldErrors }) }),
});

builder.objectType(NotFoundError, {
  name: "NotFoundError",
  interfaces: [ErrorInterface],
  fields: (t) => ({ resource: t.exposeString("resource") }),
});

/** Declares a module's own error class as a GraphQL result type implementing Error. */
export function errorType<T extends ExpectedError>(cls: new (...args: never[]) => T, name: string, description: string) {
  // plugin-errors matches thrown errors to result types by class; the class is the type's key.
  const key = cls as unknown as typeof ExpectedError;
  return builder.objectType(key, { name, description, interfaces: [ErrorInterface], fields: () => ({}) });
}
