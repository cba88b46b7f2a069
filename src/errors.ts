// Expected failures are values the SDK branches on (typed GraphQL results); anything else is a bug and
// is masked by yoga. Auth failures are GraphQL errors with a code, since no result type could help.
import { GraphQLError } from "graphql";

/** Base of every failure a caller can cause and fix; mutations roll back when one is thrown. */
export class ExpectedError extends Error {
  override name = "ExpectedError";
}

export interface FieldProblem {
  path: string[];
  message: string;
}

export class ValidationError extends ExpectedError {
  override name = "ValidationError";
  constructor(
    message: string,
    readonly fieldErrors: FieldProblem[] = [],
  ) {
    super(message);
  }
  static field(path: string[], message: string): ValidationError {
    return new ValidationError(message, [{ path, message }]);
  }
}

/** Absent, or another tenant's: the two are deliberately indistinguishable. */
export class NotFoundError extends ExpectedError {
  override name = "NotFoundError";
  constructor(readonly resource: string) {
    super(`${resource} not found`);
  }
}

export function unauthenticated(message = "Authentication required: send Authorization: Bearer <API key or session token>"): GraphQLError {
  return new GraphQLError(message, { extensions: { code: "UNAUTHENTICATED", http: { status: 401 } } });
}

export function forbidden(message = "Not allowed: your role or API key scopes do not permit this"): GraphQLError {
  return new GraphQLError(message, { extensions: { code: "FORBIDDEN" } });
}

/** Exact counts of single events withheld while the tenant's minimumGroupSize is above 1 (as the raw event export's 403). */
export function suppressionInForce(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: "SUPPRESSION_IN_FORCE" } });
}

export function badInput(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: "BAD_USER_INPUT" } });
}
