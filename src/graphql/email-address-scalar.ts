// The EmailAddress scalar: src/lib/email-address.ts's rule, so the API accepts exactly what a CSV
// row accepts and hands resolvers the normalised address (trimmed, A-label domain, lower-case).
import { GraphQLError, GraphQLScalarType, Kind } from "graphql";
import { normaliseEmail } from "../lib/email-address.js";

function parse(value: unknown): string {
  if (typeof value !== "string") throw new GraphQLError("An email address must be a string", { extensions: { code: "BAD_USER_INPUT" } });
  const check = normaliseEmail(value);
  if (!check.ok) throw new GraphQLError(`Not a valid email address: ${check.reason}`, { extensions: { code: "BAD_USER_INPUT" } });
  return check.email;
}

export const EmailAddressScalar = new GraphQLScalarType<string, string>({
  name: "EmailAddress",
  description:
    "An email address, normalised: trimmed, domain in lower-case IDNA A-label form, ASCII local part lower-cased; at most 254 characters (64 before the @). Internationalised local parts (SMTPUTF8) are refused.",
  // Stored addresses are served as they are: a row written under an older rule must never break a read.
  serialize: (value) => String(value),
  parseValue: parse,
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING) throw new GraphQLError("An email address must be a string", { nodes: [ast], extensions: { code: "BAD_USER_INPUT" } });
    return parse(ast.value);
  },
});
