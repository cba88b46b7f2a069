// createYoga and the HTTP routes; nothing else.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer, type Server as TlsServer } from "node:https";
import type { Duplex } from "node:stream";
import type { AddressInfo } from "node:net";
import compression from "compression";
import { createYoga, type YogaServerInstance } from "graphql-yoga";
import { renderGraphiQL } from "@graphql-yoga/render-graphiql";
import { EnvelopArmorPlugin } from "@escape.tech/graphql-armor";
import { schema } from "./schema.js";
import { buildContext, type App, type Context } from "./context.js";
import { useTenantTransaction } from "./graphql/transaction-plugin.js";
import { usePageSizeLimit } from "./graphql/page-size-plugin.js";
import { useTextInputs } from "./graphql/text-inputs.js";
import { maskError, quietAboutCallerErrors, useErrorCodes } from "./graphql/errors.js";
import { useNestingLimit } from "./graphql/nesting-limit-plugin.js";
import { isDatabaseUnavailable, RETRY_AFTER_SECONDS } from "./db/availability.js";
import { declaresTooLarge, readBody } from "./lib/read-body.js";
import { acceptsHtml, refuse } from "./lib/http-answers.js";
import { createTransit } from "./lib/transit.js";
import { readTlsCredentials, type TlsCredentials } from "./lib/tls-credentials.js";
import { LIMITS } from "./builder.js";
import { createPublicRoutes } from "./public/routes.js";
import { createDownloadRoutes } from "./modules/bulk/download.js";
import { createPersonExportRoutes } from "./modules/privacy/export-link.js";
import { createPrivacyRoutes } from "./public/privacy-routes.js";
import { createAccountRoutes } from "./public/account-routes.js";
import { createTenantExportRoutes } from "./modules/tenant-export/service.js";
import { createProviderWebhookRoute } from "./modules/delivery/provider-webhooks.js";
import { createEngagementRecorder } from "./modules/engagement/ingest.js";
import { createAnalyticsExportRoutes } from "./modules/analytics/routes.js";
import { ANALYTICS_FIELDS_CHECKING_FIRST } from "./modules/analytics/stages.js";

export const ARMOR = { maxAliases: 15, maxTokens: 5000, maxDirectives: 20, maxNesting: 64 };

export function createGraphQL(app: App): YogaServerInstance<Record<string, never>, Context> {
  return createYoga<Record<string, never>, Context>({
    schema,
    graphqlEndpoint: "/graphql",
    graphiql: app.config.graphiql ? { title: "Laurel" } : false,
    renderGraphiQL, // bundled: GraphiQL works without reaching a CDN
    landingPage: false,
    logging: quietAboutCallerErrors(),
    context: (initial) => buildContext(app, initial) as Promise<Context>,
    plugins: [
      useNestingLimit(ARMOR.maxNesting),
      EnvelopArmorPlugin({
        maxAliases: { n: ARMOR.maxAliases },
        maxTokens: { n: ARMOR.maxTokens },
        maxDirectives: { n: ARMOR.maxDirectives },
        // Pothos complexity enforces depth and cost with the schema's knowledge; armor's depth limit
        // is the backstop for introspection, which Pothos does not measure (the standard
        // introspection query that GraphiQL and codegen send is 21 deep).
        maxDepth: { n: 25, ignoreIntrospection: false },
        costLimit: { enabled: false },
        blockFieldSuggestion: { enabled: !app.config.graphiql },
      }),
      useErrorCodes(),
      usePageSizeLimit(LIMITS.maxPageSize, ANALYTICS_FIELDS_CHECKING_FIRST),
      useTextInputs(),
      useTenantTransaction(),
      {
        onResponse({ response, serverContext }) {
          const id = (serverContext as { requestId?: string } | undefined)?.requestId;
          if (id) response.headers.set("x-request-id", id);
        },
      },
    ],
    maskedErrors: { maskError },
  });
}

export interface RunningServer {
  /** node:https when config.tls is set, else node:http. */
  server: Server | TlsServer;
  url: string;
  /**
   * Reads config.tls's files again and serves new connections with them (a renewed certificate); on a
   * problem keeps the old ones and throws StartupError. Without TLS, does nothing.
   */
  reloadTls(): TlsCredentials | undefined;
  /**
   * Stops accepting connections, lets requests in flight finish for up to `deadlineMs`, then closes
   * whatever is left, and writes the engagement events already answered for.
   */
  close(deadlineMs?: number): Promise<void>;
}

function reject(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}) {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify({ errors: [{ message, extensions: { code } }] }));
}

// Event streams and incremental delivery must reach the client as written, not when a compressor flushes.
const STREAMED = /^(text\/event-stream|multipart\/mixed)/;
const compress = compression({ filter: (req, res) => !STREAMED.test(String(res.getHeader("content-type") ?? "")) && compression.filter(req, res) });

/**
 * Listens on `port` and `host`: HTTPS (TLS 1.2 at least) with `tls` when given (by default read from
 * config.tls; StartupError for a bad file), else HTTP.
 */
export async function startServer(
  app: App,
  port = app.config.port,
  host = app.config.host,
  tls = app.config.tls && readTlsCredentials(app.config.tls),
): Promise<RunningServer> {
  const transit = createTransit(app.config);
  const yoga = createGraphQL(app);
  const engagement = createEngagementRecorder(app);
  const handlePublic = createPublicRoutes(app, engagement);
  const handleDownloads = createDownloadRoutes(app);
  const handlePersonExports = createPersonExportRoutes(app);
  const handlePrivacy = createPrivacyRoutes(app);
  const handleAccount = createAccountRoutes(app);
  const handleTenantExports = createTenantExportRoutes(app);
  const handleAnalyticsExports = createAnalyticsExportRoutes(app, yoga);
  const handleProviderWebhook = createProviderWebhookRoute(app);
  const limit = app.config.maxBodyBytes;
  const route = (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? "/";
    if (url === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
      return;
    }
    if (!url.startsWith("/graphql")) {
      void handleDownloads(req, res)
        .then((handled) => handled || handlePersonExports(req, res))
        .then((handled) => handled || handlePrivacy(req, res))
        .then((handled) => handled || handleAccount(req, res))
        .then((handled) => handled || handleTenantExports(req, res))
        .then((handled) => handled || handleAnalyticsExports(req, res))
        .then((handled) => handled || handleProviderWebhook(req, res))
        .then((handled) => handled || handlePublic(req, res))
        .then((handled) => {
          if (!handled) refuse(res, { status: 404, code: "NOT_FOUND", message: "Nothing is published at this address: check the link you followed" }, { html: acceptsHtml(req) });
        })
        // Whatever a route failed to handle (an aborted upload, a lost database connection) ends
        // this request, never the process.
        .catch((error: Error) => failed(req, res, error));
      return;
    }
    if (req.method === "POST") {
      // Anonymous callers get the small limit; signed-in ones may send bulk rows, uploads the most.
      const max = String(req.headers["content-type"]).startsWith("multipart/form-data")
        ? app.config.maxUploadBytes
        : req.headers.authorization
          ? app.config.maxAuthenticatedBodyBytes
          : limit;
      if (req.headers["content-length"] === undefined) {
        // A chunked body declares no size: count its bytes as they arrive (413 past the limit), then
        // hand yoga the bytes read (whatwg-node takes a body already read from `req.body`).
        void readBody(req, max).then(
          (body) => {
            (req as IncomingMessage & { body?: Buffer }).body = body;
            return yoga.handle(req, res);
          },
          (error: Error & { status?: number }) => {
            if (error.status !== 413) return void res.destroy();
            reject(res, 413, "PAYLOAD_TOO_LARGE", `Request body exceeds ${max} bytes`, { connection: "close" });
          },
        );
        return;
      }
      if (declaresTooLarge(req, max)) return reject(res, 413, "PAYLOAD_TOO_LARGE", `Request body exceeds ${max} bytes`);
    }
    void yoga.handle(req, res);
  };
  const inFlight = new Set<ServerResponse>();
  let closing = false;
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    transit.protect(req, res); // before any route (or the refusal below) writes
    inFlight.add(res);
    res.once("close", () => {
      inFlight.delete(res);
      if (closing) server.closeIdleConnections();
    });
    if (closing) res.setHeader("connection", "close");
    if (transit.refusePlainHttp(req, res)) return;
    compress(req as never, res as never, () => route(req, res));
  };
  const server = tls ? createTlsServer({ cert: tls.cert, key: tls.key, minVersion: "TLSv1.2" }, handle) : createServer(handle);
  // Node answers a request it cannot parse (400, 408, 431) without a route: with the same headers.
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => transit.answerClientError(error, socket));
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const address = server.address() as AddressInfo;
  return {
    server,
    url: `${tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${address.port}`,
    reloadTls() {
      if (!app.config.tls || !("setSecureContext" in server)) return undefined;
      const renewed = readTlsCredentials(app.config.tls);
      server.setSecureContext({ cert: renewed.cert, key: renewed.key });
      return renewed;
    },
    close: (deadlineMs = 10_000) =>
      new Promise<void>((resolve) => {
        closing = true;
        // Keep-alive connections close after the response they carry; idle ones close now.
        for (const res of inFlight) if (!res.headersSent) res.setHeader("connection", "close");
        const cutOff = setTimeout(() => server.closeAllConnections(), deadlineMs);
        server.close(() => {
          clearTimeout(cutOff);
          resolve();
        });
        server.closeIdleConnections();
      }).then(() => engagement.stop()), // events already answered for are written before the pool closes
  };
}

let outageLoggedAt = 0;

/** The answer for a request a route could not finish: 503 while the database is away, else a 500. */
function failed(req: IncomingMessage, res: ServerResponse, error: Error) {
  const unavailable = isDatabaseUnavailable(error);
  if (unavailable && Date.now() - outageLoggedAt > RETRY_AFTER_SECONDS * 1000) {
    outageLoggedAt = Date.now();
    console.error(`database unavailable, answering 503 meanwhile: ${error.message}`);
  } else if (!unavailable && (error as NodeJS.ErrnoException).code !== "ECONNRESET") console.error("request failed:", error.message);
  if (res.headersSent || res.destroyed) return void res.destroy();
  const html = acceptsHtml(req);
  if (unavailable) {
    const message = `The database is unavailable right now: try again in ${RETRY_AFTER_SECONDS} seconds`;
    refuse(res, { status: 503, code: "SERVICE_UNAVAILABLE", message }, { html, headers: { "retry-after": String(RETRY_AFTER_SECONDS) } });
  } else refuse(res, { status: 500, code: "INTERNAL_SERVER_ERROR", message: "Something went wrong on our side" }, { html });
}
