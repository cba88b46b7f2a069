// createYoga and the HTTP routes; nothing else.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createYoga, type YogaServerInstance } from "graphql-yoga";
import { renderGraphiQL } from "@graphql-yoga/render-graphiql";
import { EnvelopArmorPlugin } from "@escape.tech/graphql-armor";
import { schema } from "./schema.js";
import { buildContext, type App, type Context } from "./context.js";
import { useTenantTransaction } from "./graphql/transaction-plugin.js";
import { usePageSizeLimit } from "./graphql/page-size-plugin.js";
import { useTextInputs } from "./graphql/text-inputs.js";
import { maskError, quietAboutCallerErrors, useErrorCodes } from "./graphql/errors.js";
import { LIMITS } from "./builder.js";
import { createPublicRoutes } from "./public/routes.js";
import { createDownloadRoutes } from "./modules/bulk/download.js";
import { createProviderWebhookRoute } from "./modules/delivery/provider-webhooks.js";
import { createEngagementRecorder } from "./modules/engagement/ingest.js";

export const ARMOR = { maxAliases: 15, maxTokens: 5000, maxDirectives: 20 };

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
      usePageSizeLimit(LIMITS.maxPageSize),
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
  server: Server;
  url: string;
  close(): Promise<void>;
}

function reject(res: ServerResponse, status: number, code: string, message: string) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify({ errors: [{ message, extensions: { code } }] }));
}

export async function startServer(app: App, port = app.config.port, host = app.config.host): Promise<RunningServer> {
  const yoga = createGraphQL(app);
  const engagement = createEngagementRecorder(app);
  const handlePublic = createPublicRoutes(app, engagement);
  const handleDownloads = createDownloadRoutes(app);
  const handleProviderWebhook = createProviderWebhookRoute(app);
  const limit = app.config.maxBodyBytes;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? "/";
    if (url === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
      return;
    }
    if (!url.startsWith("/graphql")) {
      void handleDownloads(req, res)
        .then((handled) => handled || handleProviderWebhook(req, res))
        .then((handled) => handled || handlePublic(req, res))
        .then((handled) => {
          if (!handled) {
            res.writeHead(404, { "content-type": "application/json" });
            res.end(JSON.stringify({ error: "Not found" }));
          }
        })
        // Whatever a route failed to handle (an aborted upload, a lost database connection) ends
        // this request, never the process.
        .catch((error: Error) => {
          if ((error as NodeJS.ErrnoException).code !== "ECONNRESET") console.error("request failed:", error.message);
          if (!res.headersSent && !res.destroyed) {
            res.writeHead(500, { "content-type": "application/json" });
            res.end(JSON.stringify({ error: "Something went wrong on our side" }));
          } else res.destroy();
        });
      return;
    }
    if (req.method === "POST") {
      const length = Number(req.headers["content-length"] ?? NaN);
      // Anonymous callers get the small limit; signed-in ones may send bulk rows, uploads the most.
      const max = String(req.headers["content-type"]).startsWith("multipart/form-data")
        ? app.config.maxUploadBytes
        : req.headers.authorization
          ? app.config.maxAuthenticatedBodyBytes
          : limit;
      if (Number.isNaN(length)) return reject(res, 411, "LENGTH_REQUIRED", "Send a Content-Length header");
      if (length > max) return reject(res, 413, "PAYLOAD_TOO_LARGE", `Request body exceeds ${max} bytes`);
    }
    void yoga.handle(req, res);
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const address = server.address() as AddressInfo;
  return {
    server,
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }).then(() => engagement.stop()), // events already answered for are written before the pool closes
  };
}
