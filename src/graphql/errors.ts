// How errors leave the server: a code on every one, unexpected ones masked, and only those logged.
import { SealedFieldError } from "../modules/vault/cipher.js";
import { GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";
import { PothosValidationError } from "@pothos/core";
import { isDatabaseUnavailable, isStatementTimeout, RETRY_AFTER_SECONDS } from "../db/availability.js";
import { NotFoundError } from "../errors.js";

/** graphql-armor's limits and graphql-js's validation errors carry no code; callers branch on codes. */
const ARMOR_LIMIT = /limit of \d+ exceeded/i;
function withCode(e: GraphQLError, fallback: string): GraphQLError {
  const limit = ARMOR_LIMIT.test(e.message);
  if (e.extensions?.code && !limit) return e;
  // A variable missing or of the wrong type is the caller's input, not a malformed document.
  const code = limit ? "QUERY_TOO_COMPLEX" : /^Variable "\$/.test(e.message) ? "BAD_USER_INPUT" : fallback;
  return new GraphQLError(e.message, { nodes: e.nodes, extensions: { ...e.extensions, code, http: { status: 400 } } });
}

export function useErrorCodes(): Plugin {
  return {
    onResultProcess({ result, setResult }) {
      const single = result as { errors?: readonly GraphQLError[] };
      if (Array.isArray(result) || !single.errors?.some((e) => !e.extensions?.code || ARMOR_LIMIT.test(e.message))) return;
      const fallback = "data" in single ? "GRAPHQL_VALIDATION_FAILED" : "GRAPHQL_PARSE_FAILED";
      setResult({ ...single, errors: single.errors.map((e) => withCode(isGraphQLError(e) ? e : new GraphQLError(String((e as Error).message)), fallback)) });
    },
  };
}

/**
 * Yoga logs every GraphQLError; only the ones we masked (bugs) deserve an error line, and a database
 * outage one line every few seconds rather than a stack per request.
 */
export function quietAboutCallerErrors() {
  const callerError = (arg: unknown) =>
    isGraphQLError(arg) &&
    (arg.originalError instanceof PothosValidationError || (arg.extensions?.code !== "INTERNAL_SERVER_ERROR" && !arg.originalError?.stack?.includes("Prisma")));
  let outageLoggedAt = 0;
  return {
    debug: () => {},
    info: () => {},
    warn: (...args: unknown[]) => console.warn(...args),
    error: (...args: unknown[]) => {
      if (args.some((a) => isDatabaseUnavailable(a))) {
        if (Date.now() - outageLoggedAt < RETRY_AFTER_SECONDS * 1000) return;
        outageLoggedAt = Date.now();
        const cause = args.find((a) => a instanceof Error) as Error | undefined;
        console.error(`database unavailable, answering 503 meanwhile: ${cause?.message ?? "connection lost"}`);
        return;
      }
      if (args.every((a) => callerError(a) || typeof a === "string")) return;
      console.error(...args);
    },
  };
}

/** Duck-typed: CommonJS and ESM copies of graphql-js each have their own GraphQLError class. */
export function isGraphQLError(error: unknown): error is GraphQLError {
  return error instanceof Error && (error instanceof GraphQLError || ("extensions" in error && "path" in error && "locations" in error));
}

/** A database that is restarting or unreachable: 503 with Retry-After, never a masked 500. */
export function serviceUnavailable(at?: GraphQLError): GraphQLError {
  return new GraphQLError(`The database is unavailable right now; retry in ${RETRY_AFTER_SECONDS} s (mutations with the same idempotency key)`, {
    nodes: at?.nodes,
    path: at?.path,
    extensions: { code: "SERVICE_UNAVAILABLE", http: { status: 503, headers: { "retry-after": String(RETRY_AFTER_SECONDS) } } },
  });
}

/**
 * A valid request whose statement ran past the transaction's statement_timeout (15 s): QUERY_TIMEOUT,
 * 503, never a masked 500. Retrying the same request is unlikely to help; a smaller one will.
 */
export function queryTimeout(at?: GraphQLError): GraphQLError {
  return new GraphQLError("The request took longer than the server's time limit and was stopped; ask for a shorter range, a coarser interval or a filter", {
    nodes: at?.nodes,
    path: at?.path,
    extensions: { code: "QUERY_TIMEOUT", http: { status: 503 } },
  });
}

/**
 * Unexpected errors are masked; GraphQL errors raised underneath (scalars, auth, limits) keep their
 * code; a lost database connection is SERVICE_UNAVAILABLE and a NotFoundError thrown where no result
 * type can carry it (a subscription) is NOT_FOUND.
 */
export function maskError(error: unknown, message: string): Error {
  if (isDatabaseUnavailable(error)) return serviceUnavailable(isGraphQLError(error) ? error : undefined);
  if (isStatementTimeout(error)) return queryTimeout(isGraphQLError(error) ? error : undefined);
  if (!isGraphQLError(error)) return new GraphQLError(message, { extensions: { code: "INTERNAL_SERVER_ERROR" } });
  const original = error.originalError;
  if (original instanceof NotFoundError) {
    return new GraphQLError(original.message, { nodes: error.nodes, path: error.path, extensions: { code: "NOT_FOUND" } });
  }
  if (original instanceof PothosValidationError) {
    return new GraphQLError(original.message, { ...error, extensions: { code: "BAD_USER_INPUT" } });
  }
  if (!original) return error;
  // A sealed value that does not open (tampered, or copied from another row or tenant: vault/cipher.ts)
  // is named as such for that field alone; the operator hears of it, the caller never sees another's data.
  if (original instanceof SealedFieldError) {
    console.error(`sealed value did not open at ${error.path?.join(".") ?? "?"}: ${original.message}`);
    return new GraphQLError("This value is stored sealed and did not open: it was altered or moved. The operator has been told.", {
      nodes: error.nodes,
      path: error.path,
      extensions: { code: "SEALED_VALUE_UNREADABLE" },
    });
  }
  // A GraphQLError raised underneath (scalar parsing, auth, limits) is meant for the caller.
  if (isGraphQLError(original)) {
    const code = (original as GraphQLError).extensions?.code ?? error.extensions?.code ?? "BAD_USER_INPUT";
    return new GraphQLError(error.message, { nodes: error.nodes, path: error.path, extensions: { ...error.extensions, code } });
  }
  return new GraphQLError(message, { nodes: error.nodes, path: error.path, extensions: { code: "INTERNAL_SERVER_ERROR" } });
}
