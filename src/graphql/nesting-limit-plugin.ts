// Refuses deeply nested documents and variables before anything recursive sees them. graphql-js parses
// (and later validates and coerces) by recursion: a 60 KB `{a{a{a…` or `[[[…` overflowed the stack and
// came back as INTERNAL_SERVER_ERROR, before the depth and token limits ever ran. A linear scan of the
// text's brackets costs microseconds and holds for any document.
import { GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";

/**
 * Deepest nesting of `{`, `[` and `(` in a GraphQL document, ignoring strings, block strings and
 * comments (GraphQL spec, "Source Text"). Stops counting once past `limit`.
 */
export function bracketDepth(source: string, limit = Infinity): number {
  let depth = 0;
  let deepest = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source.charCodeAt(i);
    if (c === 0x23 /* # */) {
      while (i < source.length && source[i] !== "\n" && source[i] !== "\r") i++;
    } else if (c === 0x22 /* " */) {
      if (source.startsWith('"""', i)) {
        i += 3;
        while (i < source.length && !source.startsWith('"""', i)) i += source.startsWith('\\"""', i) ? 4 : 1;
        i += 2;
      } else {
        for (i++; i < source.length && source[i] !== '"' && source[i] !== "\n"; i++) if (source[i] === "\\") i++;
      }
    } else if (c === 0x7b || c === 0x5b || c === 0x28 /* { [ ( */) {
      if (++depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if (c === 0x7d || c === 0x5d || c === 0x29 /* } ] ) */) {
      depth--;
    }
  }
  return deepest;
}

/** Deepest nesting of objects and arrays in a JSON value (the request's variables), without recursion. */
export function valueDepth(value: unknown, limit = Infinity): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (d + 1 > deepest) deepest = d + 1;
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
  return deepest;
}

function tooComplex(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: "QUERY_TOO_COMPLEX", http: { status: 400 } } });
}

/**
 * QUERY_TOO_COMPLEX for a document nested deeper than `maxDepth` brackets or variables nested deeper
 * than `maxDepth` levels. Legitimate operations stay far below it: selection depth is capped at 25 by
 * the depth limits, and input objects are a few levels deep.
 */
export function useNestingLimit(maxDepth: number): Plugin {
  return {
    onParams({ params }) {
      if (typeof params.query === "string" && bracketDepth(params.query, maxDepth) > maxDepth) {
        throw tooComplex(`Query is nested more than ${maxDepth} levels deep`);
      }
      if (params.variables && valueDepth(params.variables, maxDepth) > maxDepth) {
        throw tooComplex(`Variables are nested more than ${maxDepth} levels deep`);
      }
    },
  };
}
