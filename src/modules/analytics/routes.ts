// Analytics downloads, with the caller's own bearer token (API key or session) and permission analytics:
//   GET /analytics/exports/{funnel|time-series|breakdown|top-templates|latency|delivery-health}.{csv|json}?variables=<JSON>
//       runs the SDK's operation for that result through the GraphQL server itself (same context, checks,
//       transaction and errors), then answers its value as JSON or flattened to CSV (exports.ts).
//   GET /analytics/exports/events.{csv|jsonl}?from=<ISO 8601>&to=<ISO 8601>
//       the anonymised event stream of [from, to), at most 1,096 days, streamed from a cursor.
// Failures answer { code, message, fieldErrors }: 401 UNAUTHENTICATED, 403 FORBIDDEN, 400 BAD_USER_INPUT.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { YogaInitialContext, YogaServerInstance } from "graphql-yoga";
import { buildContext, claimsFor, type App, type Context, type RequestContext } from "../../context.js";
import { withTenantSql } from "../../db/tenant-transaction.js";
import type { FieldProblem } from "../../errors.js";
import { isGraphQLError } from "../../graphql/errors.js";
import { RETRY_AFTER_SECONDS } from "../../db/availability.js";
import { parseDateInput } from "../../lib/calendar.js";
import { ANALYTICS_LIMITS } from "./stages.js";
import { EVENT_COLUMNS, operationFor, RESULT_EXPORTS, streamEvents, toCsv, type EventRecord } from "./exports.js";

const PATH = /^\/analytics\/exports\/([a-z-]{1,40})\.(csv|jsonl?)$/;
const STATUS: Record<string, number> = { UNAUTHENTICATED: 401, FORBIDDEN: 403, SERVICE_UNAVAILABLE: 503, QUERY_TIMEOUT: 503, INTERNAL_SERVER_ERROR: 500 };

interface Failure {
  status: number;
  code: string;
  message: string;
  fieldErrors?: FieldProblem[];
}

function fail(res: ServerResponse, f: Failure): true {
  const headers: Record<string, string> = { "content-type": "application/json", "cache-control": "no-store" };
  if (f.status === 503 || f.status === 429) headers["retry-after"] = String(RETRY_AFTER_SECONDS);
  res.writeHead(f.status, headers).end(JSON.stringify({ code: f.code, message: f.message, fieldErrors: f.fieldErrors ?? [] }));
  return true;
}
const badInput = (message: string, fieldErrors: FieldProblem[] = []): Failure => ({ status: 400, code: "BAD_USER_INPUT", message, fieldErrors });

/** The caller, exactly as /graphql sees it (context.ts), or why it may not export analytics. */
async function authorize(app: App, req: IncomingMessage): Promise<RequestContext | Failure> {
  const headers = new Headers();
  for (const name of ["authorization", "x-request-id", "user-agent"]) {
    const value = req.headers[name];
    if (typeof value === "string") headers.set(name, value);
  }
  let ctx: RequestContext;
  try {
    ctx = await buildContext(app, { request: new Request(`http://laurel.internal${req.url ?? "/"}`, { headers }), req } as unknown as YogaInitialContext);
  } catch (error) {
    if (isGraphQLError(error) && error.extensions?.code === "UNAUTHENTICATED") return { status: 401, code: "UNAUTHENTICATED", message: error.message };
    throw error;
  }
  if (ctx.viewer.kind === "anonymous") {
    return { status: 401, code: "UNAUTHENTICATED", message: "Authentication required: send Authorization: Bearer <API key or session token>" };
  }
  if (!ctx.tenantId || !ctx.permissions.has("analytics")) {
    return { status: 403, code: "FORBIDDEN", message: "Needs the analytics permission (role analyst, admin or owner; API key scope analytics)" };
  }
  return ctx;
}

/** "2026-03-01" for midnight UTC, else "2026-03-01T0915Z": for file names. */
function stamp(value: unknown): string {
  const date = typeof value === "string" ? new Date(value) : null;
  if (!date || Number.isNaN(date.getTime())) return "";
  const iso = date.toISOString();
  return iso.endsWith("T00:00:00.000Z") ? iso.slice(0, 10) : `${iso.slice(0, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}Z`;
}

function fileName(name: string, from: unknown, to: unknown, ext: string): string {
  return `laurel-${[name, stamp(from), stamp(to)].filter(Boolean).join("_")}.${ext}`;
}

function contentType(ext: string): string {
  return ext === "csv" ? "text/csv; charset=utf-8" : ext === "jsonl" ? "application/jsonl; charset=utf-8" : "application/json; charset=utf-8";
}

/** Waits until the response can take more, or the client has gone (then `res.destroyed`). */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done).off("close", done);
      resolve();
    };
    res.once("drain", done).once("close", done);
  });
}

class ClientGone extends Error {}

export function createAnalyticsExportRoutes(app: App, yoga: YogaServerInstance<Record<string, never>, Context>) {
  // Each event export holds a pooled connection for as long as it streams: leave most for requests.
  const maxStreams = Math.max(1, Math.floor(app.config.poolSize / 4));
  let streams = 0;

  async function exportResult(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, name: string, ext: string, url: URL): Promise<true> {
    const spec = RESULT_EXPORTS[name];
    const operation = spec && operationFor(spec.field);
    if (!spec || !operation || ext === "jsonl") return fail(res, { status: 404, code: "NOT_FOUND", message: `No export ${name}.${ext}` });
    const raw = url.searchParams.get("variables");
    let variables: unknown;
    try {
      variables = raw === null ? null : JSON.parse(raw);
    } catch {
      return fail(res, badInput("variables must be URL-encoded JSON", [{ path: ["variables"], message: "Not JSON" }]));
    }
    if (!variables || typeof variables !== "object" || Array.isArray(variables)) {
      return fail(res, badInput(`variables must be a JSON object of ${spec.field}'s variables, e.g. {"range":{"from":"2026-03-01T00:00:00Z","to":"2026-04-01T00:00:00Z"}}`, [
        { path: ["variables"], message: "Expected a JSON object" },
      ]));
    }
    const response = await yoga.fetch("http://laurel.internal/graphql", {
      method: "POST",
      headers: { authorization: req.headers.authorization!, "content-type": "application/json", accept: "application/graphql-response+json", "x-request-id": ctx.requestId },
      body: JSON.stringify({ query: operation.query, operationName: operation.operationName, variables }),
    });
    const body = (await response.json()) as { data?: Record<string, any> | null; errors?: { message: string; extensions?: { code?: string } }[] };
    const error = body.errors?.[0];
    if (error) {
      const code = error.extensions?.code ?? "INTERNAL_SERVER_ERROR";
      return fail(res, { status: STATUS[code] ?? 400, code, message: error.message });
    }
    const value = body.data?.[spec.field];
    if (value && typeof value.__typename === "string" && value.__typename.endsWith("Error")) {
      return fail(res, badInput(value.message, value.fieldErrors ?? []));
    }
    const range = (variables as { range?: { from?: unknown; to?: unknown } }).range;
    res.writeHead(200, {
      "content-type": contentType(ext),
      "content-disposition": `attachment; filename="${fileName(name, range?.from, range?.to, ext)}"`,
      "cache-control": "no-store",
      "x-request-id": ctx.requestId,
    });
    res.end(ext === "csv" ? toCsv(spec.columns, spec.rows(value)) : JSON.stringify(value));
    return true;
  }

  class StreamWithheld extends Error {
    constructor(readonly size: number) {
      super("stream withheld");
    }
  }

  async function exportEvents(res: ServerResponse, ctx: RequestContext, ext: string, url: URL): Promise<true> {
    if (ext === "json") return fail(res, { status: 404, code: "NOT_FOUND", message: "The event stream comes as events.csv or events.jsonl" });
    const problems: FieldProblem[] = [];
    const instant = (name: "from" | "to") => {
      // Laurel's one date reader: impossible days (2026-02-30) are refused, not rolled over; a date alone
      // is that day's midnight UTC (the stream's times are UTC), as the README says.
      const raw = url.searchParams.get(name);
      const parsed = raw === null ? null : parseDateInput(raw, "UTC", "start");
      if (!parsed?.ok) {
        problems.push({ path: [name], message: `${name} must be an ISO 8601 date or date-time, e.g. 2026-03-01T00:00:00Z${parsed ? ` (${parsed.message})` : ""}` });
        return null;
      }
      return parsed.date;
    };
    const from = instant("from");
    const to = instant("to");
    for (const [name, date] of [["from", from], ["to", to]] as const) {
      if (date && (date.getTime() < ANALYTICS_LIMITS.earliest || date.getTime() > ANALYTICS_LIMITS.latest)) {
        problems.push({ path: [name], message: `${name} must be between 1970-01-01T00:00:00Z and 2200-01-01T00:00:00Z` });
      }
    }
    if (from && to && !problems.length) {
      if (to <= from) problems.push({ path: ["to"], message: "to must be after from" });
      else if (to.getTime() - from.getTime() > ANALYTICS_LIMITS.maxRangeDays * 86_400_000) {
        problems.push({ path: ["to"], message: `The range may span at most ${ANALYTICS_LIMITS.maxRangeDays} days (3 years)` });
      }
    }
    if (problems.length) return fail(res, badInput(problems[0]!.message, problems));
    if (streams >= maxStreams) return fail(res, { status: 429, code: "TOO_MANY_REQUESTS", message: "Too many event exports are running on this server; retry shortly" });
    streams++;
    const csv = ext === "csv";
    const start = () => {
      res.writeHead(200, {
        "content-type": contentType(ext),
        "content-disposition": `attachment; filename="${fileName("events", from!.toISOString(), to!.toISOString(), ext)}"`,
        "cache-control": "no-store",
        "x-request-id": ctx.requestId,
      });
      if (csv) res.write(toCsv(null, [[...EVENT_COLUMNS]]));
    };
    const line = (r: EventRecord) => EVENT_COLUMNS.map((c) => r[c]);
    try {
      await withTenantSql(app.database.sql, claimsFor(ctx), async (tx) => {
        // Single events with their exact times are the small groups minimumGroupSize exists to hide:
        // while a tenant suppresses small cells, its raw stream is not offered at all.
        const [tenant] = await tx<{ minimum_group_size: number }[]>`select minimum_group_size from tenants where id = ${ctx.tenantId!}`;
        if ((tenant?.minimum_group_size ?? 1) > 1) throw new StreamWithheld(tenant!.minimum_group_size);
        return streamEvents(tx, ctx.tenantId!, { from: from!, to: to! }, async (records) => {
          if (res.destroyed) throw new ClientGone();
          if (!res.headersSent) start();
          const chunk = csv ? toCsv(null, records.map(line)) : records.map((r) => JSON.stringify(r)).join("\n") + "\n";
          if (!res.write(chunk)) await drained(res);
        });
      });
    } catch (error) {
      if (error instanceof ClientGone) return true; // rolled back; nobody is listening
      if (error instanceof StreamWithheld) {
        return fail(res, {
          status: 403,
          code: "SUPPRESSION_IN_FORCE",
          message: `The event stream is withheld while the tenant's minimumGroupSize is ${error.size}: use the aggregate exports, or set it to 1`,
        });
      }
      throw error;
    } finally {
      streams--;
    }
    if (!res.headersSent) start();
    res.end();
    return true;
  }

  return async function handleAnalyticsExports(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? "/", "http://laurel.internal");
    const match = PATH.exec(url.pathname);
    if (!match) return false;
    if (req.method !== "GET") return fail(res, { status: 405, code: "METHOD_NOT_ALLOWED", message: "Use GET" });
    const ctx = await authorize(app, req);
    if ("status" in ctx) return fail(res, ctx);
    const [, name, ext] = match as unknown as [string, string, string];
    return name === "events" ? exportEvents(res, ctx, ext, url) : exportResult(req, res, ctx, name, ext, url);
  };
}
