// Who is calling and with what: built once per HTTP request before any business query. The request's
// db handle (`db`) is attached by the transaction plugin when the operation executes.
import type { YogaInitialContext } from "graphql-yoga";
import { randomUUID } from "node:crypto";
import type { Database } from "./db/database.js";
import type { Db } from "./db/tenant-transaction.js";
import type { Config } from "./config.js";
import type { Viewer } from "./modules/auth/authenticate.js";
import { permissionsForScopes, ROLE_PERMISSIONS, type Permission } from "./modules/auth/permissions.js";
import type { Loaders } from "./loaders.js";
import { ValidationError } from "./errors.js";

export interface App {
  config: Config;
  database: Database;
}

export interface Context {
  app: App;
  viewer: Viewer;
  tenantId: string | null;
  permissions: ReadonlySet<Permission>;
  requestId: string;
  userAgent: string | null;
  /** The client's address as the server saw it (behind a proxy: the proxy's). */
  clientAddress: string | null;
  /** The operation's tenant transaction; set by the transaction plugin, absent before execution. */
  db: Db;
  loaders: Loaders;
  /** Set when an expected error is thrown inside a mutation: the transaction rolls back. */
  rollbackOnly: boolean;
  /** Run after the operation's transaction commits (never if it rolls back). */
  afterCommit: (() => void)[];
  /** Set when the operation is a way in (see `actsAsNobody`): its transaction ran as the anonymous role. */
  actsAsNobody?: boolean;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,100}$/;

export type RequestContext = Omit<Context, "db" | "loaders">;

export async function buildContext(app: App, initial: YogaInitialContext): Promise<RequestContext> {
  const headers = initial.request.headers;
  const incoming = headers.get("x-request-id");
  const viewer = await app.database.auth.authenticate(headers.get("authorization"));
  const tenantId = viewer.kind === "anonymous" ? null : viewer.tenantId;
  let permissions: ReadonlySet<Permission> = new Set();
  if (viewer.kind === "apiKey") permissions = permissionsForScopes(viewer.scopes);
  if (viewer.kind === "user" && viewer.role) permissions = ROLE_PERMISSIONS[viewer.role];
  return {
    app,
    viewer,
    tenantId,
    permissions,
    requestId: incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID(),
    userAgent: headers.get("user-agent"),
    clientAddress: (initial as unknown as { req?: { socket?: { remoteAddress?: string } } }).req?.socket?.remoteAddress ?? null,
    rollbackOnly: false,
    afterCommit: [],
  };
}

/**
 * Ways in (signUp, logIn, requestPasswordReset, resetPassword, and acceptInvitation by anyone but a signed-in person) create accounts and
 * sessions through definer functions granted to the anonymous role: a bearer token sent along with
 * them is not what they act as. True when every root field of the mutation is one.
 */
export function actsAsNobody(viewer: Context["viewer"], rootFields: string[]): boolean {
  const waysIn = ["signUp", "logIn", "requestPasswordReset", "resetPassword", ...(viewer.kind === "user" ? [] : ["acceptInvitation"])];
  const fields = rootFields.filter((f) => f !== "__typename");
  return fields.length > 0 && fields.every((f) => waysIn.includes(f));
}

/** A way in beside other fields would run as the caller's role, which cannot create accounts or sessions. */
export function requireWayInAlone(ctx: Pick<Context, "viewer" | "actsAsNobody">, field: string): void {
  if (ctx.viewer.kind !== "anonymous" && !ctx.actsAsNobody) {
    throw ValidationError.field([field], `Send ${field} as the only field of its mutation (a bearer token sent with it is ignored)`);
  }
}

/** The claims the transaction sets: a member role when the caller acts for a tenant or is a user. */
export function claimsFor(ctx: Pick<Context, "app" | "viewer" | "tenantId" | "actsAsNobody">) {
  const roles = ctx.app.config.roles;
  if (ctx.actsAsNobody) return { dbRole: roles.anonymous, tenantId: null, userId: null };
  const userId = ctx.viewer.kind === "user" ? ctx.viewer.userId : null;
  const dbRole = ctx.viewer.kind === "anonymous" ? roles.anonymous : roles.member;
  return { dbRole, tenantId: ctx.tenantId, userId };
}
