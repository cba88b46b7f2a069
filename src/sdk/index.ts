// Laurel's typed client for partners: `import { createLaurelClient } from "laurel/sdk"`.
// Every operation in schema/operations is a typed document (SignUpDocument, CreateApiKeyDocument, ...):
// `client.request(Document, variables)` returns its typed data. Expected failures come back as typed
// results (`__typename`); transport and auth failures throw LaurelRequestError.
import type { TypedDocumentString } from "./generated.js";

export * from "./generated.js";

export interface GraphQLErrorShape {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; [key: string]: unknown };
}

export class LaurelRequestError extends Error {
  constructor(
    readonly status: number,
    readonly errors: GraphQLErrorShape[],
  ) {
    super(errors.map((e) => `${e.extensions?.code ?? "ERROR"}: ${e.message}`).join("; ") || `HTTP ${status}`);
    this.name = "LaurelRequestError";
  }
  /** The first error's code: UNAUTHENTICATED, FORBIDDEN, BAD_USER_INPUT, ..., or NETWORK_ERROR when no answer came. */
  get code(): string | undefined {
    return this.errors[0]?.extensions?.code;
  }
}

/** A request that got no HTTP answer at all (refused, reset, DNS, TLS, aborted): status 0, code NETWORK_ERROR. */
function networkError(error: unknown): LaurelRequestError {
  const cause = error as { message?: string; cause?: { code?: string; message?: string } };
  const detail = cause.cause?.code ?? cause.cause?.message ?? cause.message ?? String(error);
  const failure = new LaurelRequestError(0, [{ message: `No answer from Laurel: ${detail}`, extensions: { code: "NETWORK_ERROR" } }]);
  (failure as { cause?: unknown }).cause = error;
  return failure;
}

export interface LaurelClientOptions {
  /** The GraphQL endpoint, e.g. https://api.laurel.example/graphql */
  url: string;
  /** An API key (lrk_...) or a session token (lrs_...). */
  token?: string;
  fetch?: typeof globalThis.fetch;
  headers?: Record<string, string>;
}

type VariablesArg<V> = Record<string, never> extends V ? [variables?: V] : [variables: V];

export function createLaurelClient(options: LaurelClientOptions) {
  const doFetch = options.fetch ?? globalThis.fetch;
  async function request<R, V>(document: TypedDocumentString<R, V>, ...[variables]: VariablesArg<V>): Promise<R> {
    const response = await doFetch(options.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/graphql-response+json, application/json",
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...options.headers,
      },
      body: JSON.stringify({ query: document.toString(), variables }),
    }).catch((error: unknown) => {
      throw networkError(error);
    });
    const text = await response.text().catch((error: unknown) => {
      throw networkError(error);
    });
    let body: { data?: R; errors?: GraphQLErrorShape[] };
    try {
      body = JSON.parse(text);
    } catch {
      throw new LaurelRequestError(response.status, [{ message: text.slice(0, 200) || response.statusText }]);
    }
    if (body.errors?.length) throw new LaurelRequestError(response.status, body.errors);
    return body.data as R;
  }
  /**
   * The same, for operations with File variables (bulk CSV, images): sent as a GraphQL multipart
   * request. `files` maps a variable path ("file", "input.csv") to the file.
   */
  async function upload<R, V>(document: TypedDocumentString<R, V>, variables: V, files: Record<string, Blob>): Promise<R> {
    const form = new FormData();
    const paths = Object.keys(files);
    form.set("operations", JSON.stringify({ query: document.toString(), variables }));
    form.set("map", JSON.stringify(Object.fromEntries(paths.map((path, i) => [String(i), [`variables.${path}`]]))));
    paths.forEach((path, i) => form.set(String(i), files[path]!, (files[path] as File).name ?? `file${i}`));
    const response = await doFetch(options.url, {
      method: "POST",
      headers: {
        accept: "application/graphql-response+json, application/json",
        "graphql-require-preflight": "1",
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...options.headers,
      },
      body: form,
    }).catch((error: unknown) => {
      throw networkError(error);
    });
    const body = (await response.json().catch(() => ({ errors: [{ message: response.statusText }] }))) as { data?: R; errors?: GraphQLErrorShape[] };
    if (body.errors?.length) throw new LaurelRequestError(response.status, body.errors);
    return body.data as R;
  }

  return {
    request,
    upload,
    /** The same client with another token. */
    withToken: (token: string) => createLaurelClient({ ...options, token }),
  };
}

export type LaurelClient = ReturnType<typeof createLaurelClient>;
