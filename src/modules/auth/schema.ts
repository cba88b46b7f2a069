// Who am I, and the ways in and out: sign-up, log-in, log-out, switching and creating tenants.
import { builder } from "../../builder.js";
import { NotFoundError, ValidationError, unauthenticated } from "../../errors.js";
import { ErrorInterface, errorType } from "../common/schema.js";
import { MemberRoleEnum, UserRef } from "../members/schema.js";
import { ApiKeyRef } from "../api-keys/schema.js";
import { TenantRef } from "../tenants/schema.js";
import { PERMISSIONS } from "./permissions.js";
import {
  EmailTakenError,
  InvalidCredentialsError,
  SlugTakenError,
  TooManyAttemptsError,
  allowLogInAttempt,
  createTenant,
  logIn,
  logOut,
  myMemberships,
  signUp,
  switchTenant,
  type SessionGrant,
} from "./service.js";
import { requireWayInAlone, type Context } from "../../context.js";
import { createMailer } from "../delivery/mailer.js";
import { forgetCallersAfterCommit } from "./auth-cache.js";
import { PasswordResetError, TooManyResetRequestsError, requestPasswordReset, resetPassword, sendPasswordResetEmail } from "./password-reset.js";

errorType(InvalidCredentialsError, "InvalidCredentialsError", "The email or password is wrong.");
errorType(EmailTakenError, "EmailTakenError", "An account already uses this email.");
errorType(TooManyAttemptsError, "TooManyAttemptsError", "Too many sign-in attempts for this account or client; retry later.");
builder.objectType(SlugTakenError, {
  name: "SlugTakenError",
  interfaces: [ErrorInterface],
  fields: (t) => ({ slug: t.exposeString("slug") }),
});

const PermissionEnum = builder.enumType("Permission", {
  values: Object.fromEntries(PERMISSIONS.map((p) => [p.replace(":", "_").toUpperCase(), { value: p }])),
});

const ViewerKind = builder.enumType("ViewerKind", { values: ["USER", "API_KEY"] as const });

const TenantMembershipSummary = builder.simpleObject("TenantMembershipSummary", {
  description: "A tenant the signed-in user belongs to (only its name: switch to it to see more).",
  fields: (t) => ({
    tenantId: t.id(),
    tenantName: t.string(),
    tenantSlug: t.string(),
    role: t.field({ type: MemberRoleEnum }),
  }),
});

const ViewerRef = builder.objectRef<Context["viewer"]>("Viewer").implement({
  fields: (t) => ({
    kind: t.field({ type: ViewerKind, resolve: (v) => (v.kind === "user" ? "USER" : "API_KEY") }),
    user: t.prismaField({
      type: UserRef,
      nullable: true,
      resolve: (query, v, _args, ctx) => (v.kind === "user" ? ctx.db.user.findUnique({ ...query, where: { id: v.userId } }) : null),
    }),
    apiKey: t.prismaField({
      type: ApiKeyRef,
      nullable: true,
      description: "The key in use (its own fields need the admin scope).",
      skipTypeScopes: true,
      resolve: (query, v, _args, ctx) =>
        v.kind === "apiKey" ? ctx.db.apiKey.findUnique({ ...query, where: { tenantId_id: { tenantId: v.tenantId, id: v.apiKeyId } } }) : null,
    }),
    tenant: t.prismaField({
      type: TenantRef,
      nullable: true,
      resolve: (query, _v, _args, ctx) => (ctx.tenantId ? ctx.db.tenant.findUnique({ ...query, where: { id: ctx.tenantId } }) : null),
    }),
    role: t.field({ type: MemberRoleEnum, nullable: true, resolve: (v) => (v.kind === "user" ? v.role : null) }),
    permissions: t.field({ type: [PermissionEnum], resolve: (_v, _a, ctx) => [...ctx.permissions] as never }),
    memberships: t.field({
      type: [TenantMembershipSummary],
      description: "Every tenant the signed-in user belongs to; empty for API keys.",
      resolve: async (v, _a, ctx) => (v.kind === "user" ? ((await myMemberships(ctx.db)) as never) : []),
    }),
  }),
});

builder.queryField("viewer", (t) =>
  t.field({
    type: ViewerRef,
    authScopes: { signedIn: true },
    resolve: (_root, _args, ctx) => ctx.viewer,
  }),
);

const SessionPayload = builder.simpleObject("SessionPayload", {
  fields: (t) => ({
    token: t.string({ description: "Send as 'Authorization: Bearer <token>'" }),
    expiresAt: t.field({ type: "DateTime" }),
    userId: t.id(),
    tenantId: t.id({ nullable: true }),
  }),
});

const SignUpInput = builder.inputType("SignUpInput", {
  fields: (t) => ({
    email: t.field({ type: "EmailAddress", required: true }),
    password: t.string({ required: true }),
    name: t.string({ required: true }),
    organizationName: t.string({ required: true }),
    organizationSlug: t.string({ description: "Defaults to one made from the organization name" }),
  }),
});

const sessionOptions = (ctx: Context) => ({ ttlHours: ctx.app.config.sessionTtlHours, userAgent: ctx.userAgent });
const asPayload = (grant: SessionGrant) => grant;

builder.mutationField("signUp", (t) =>
  t.field({
    type: SessionPayload,
    description: "Creates an account, its organization (tenant) with you as owner, and a session.",
    errors: { types: [ValidationError, EmailTakenError, SlugTakenError] },
    args: { input: t.arg({ type: SignUpInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      requireWayInAlone(ctx, "signUp");
      return asPayload(await signUp(ctx.db, input, sessionOptions(ctx)));
    },
  }),
);

const LogInInput = builder.inputType("LogInInput", {
  fields: (t) => ({
    email: t.field({ type: "EmailAddress", required: true }),
    password: t.string({ required: true }),
    tenantId: t.field({ type: "UUID", description: "Start in this tenant; defaults to your first" }),
  }),
});

builder.mutationField("logIn", (t) =>
  t.field({
    type: SessionPayload,
    errors: { types: [InvalidCredentialsError, NotFoundError, TooManyAttemptsError] },
    args: { input: t.arg({ type: LogInInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      requireWayInAlone(ctx, "logIn");
      if (!allowLogInAttempt(input.email, ctx.clientAddress)) throw new TooManyAttemptsError();
      return asPayload(await logIn(ctx.db, input, sessionOptions(ctx)));
    },
  }),
);

builder.mutationField("logOut", (t) =>
  t.boolean({
    authScopes: { user: true },
    description: "Ends the current session.",
    resolve: async (_root, _args, ctx) => {
      if (ctx.viewer.kind !== "user") throw unauthenticated();
      const sessionId = ctx.viewer.sessionId;
      await logOut(ctx.db, sessionId);
      forgetCallersAfterCommit(ctx, (v) => v.kind === "user" && v.sessionId === sessionId);
      return true;
    },
  }),
);

const SwitchTenantPayload = builder.simpleObject("SwitchTenantPayload", {
  fields: (t) => ({ tenantId: t.id() }),
});

builder.mutationField("switchTenant", (t) =>
  t.field({
    type: SwitchTenantPayload,
    authScopes: { user: true },
    description: "Points the current session at another tenant you belong to.",
    errors: { types: [NotFoundError] },
    args: { tenantId: t.arg({ type: "UUID", required: true }) },
    resolve: async (_root, { tenantId }, ctx) => {
      if (ctx.viewer.kind !== "user") throw unauthenticated();
      const sessionId = ctx.viewer.sessionId;
      await switchTenant(ctx.db, sessionId, tenantId);
      forgetCallersAfterCommit(ctx, (v) => v.kind === "user" && v.sessionId === sessionId);
      return { tenantId };
    },
  }),
);

const CreateTenantInput = builder.inputType("CreateTenantInput", {
  fields: (t) => ({ name: t.string({ required: true }), slug: t.string() }),
});

const CreateTenantPayload = builder.simpleObject("CreateTenantPayload", {
  fields: (t) => ({ tenantId: t.id() }),
});

builder.mutationField("createTenant", (t) =>
  t.field({
    type: CreateTenantPayload,
    authScopes: { user: true },
    description: "Opens another organization with you as its owner. Use switchTenant to act in it.",
    errors: { types: [ValidationError, SlugTakenError] },
    args: { input: t.arg({ type: CreateTenantInput, required: true }) },
    resolve: async (_root, { input }, ctx) => ({ tenantId: await createTenant(ctx.db, input) }),
  }),
);

errorType(PasswordResetError, "PasswordResetError", "The password link is invalid, used or expired: ask for a new one.");
errorType(TooManyResetRequestsError, "TooManyResetRequestsError", "Too many password requests from this client; retry later.");

const RequestPasswordResetPayload = builder.simpleObject("RequestPasswordResetPayload", {
  description: "The same answer whether or not an account has the address: it tells nobody who has one.",
  fields: (t) => ({
    expiresInMinutes: t.int({ description: "How long the emailed link works, if an account has the address" }),
  }),
});

builder.mutationField("requestPasswordReset", (t) =>
  t.field({
    type: RequestPasswordResetPayload,
    description:
      "Emails a one-time link to choose a password to the account with this address, if there is one (at most three an hour), from the platform's address. " +
      "For a forgotten password, and for members of an imported tenant, whose accounts arrive without one.",
    errors: { types: [TooManyResetRequestsError] },
    args: { email: t.arg({ type: "EmailAddress", required: true }) },
    resolve: async (_root, { email }, ctx) => {
      requireWayInAlone(ctx, "requestPasswordReset");
      const asked = await requestPasswordReset(ctx.db, email, ctx.clientAddress, ctx.app.config.publicUrl);
      // Sent once the reset is committed, and not awaited: the answer comes as fast for an unknown address.
      const pending = asked.email;
      if (pending) ctx.afterCommit.push(() => void sendPasswordResetEmail(createMailer(ctx.app.config.email), ctx.app.config, pending));
      return { expiresInMinutes: asked.expiresInMinutes };
    },
  }),
);

const ResetPasswordInput = builder.inputType("ResetPasswordInput", {
  fields: (t) => ({
    token: t.string({ required: true, description: "The lrp_... token after '#' in the emailed link" }),
    password: t.string({ required: true }),
  }),
});

const ResetPasswordPayload = builder.simpleObject("ResetPasswordPayload", {
  fields: (t) => ({
    token: t.string({ description: "A new session: send as 'Authorization: Bearer <token>'" }),
    expiresAt: t.field({ type: "DateTime" }),
    userId: t.id(),
    tenantId: t.id({ nullable: true }),
    sessionsEnded: t.int({ description: "Sessions of the account the reset signed out" }),
  }),
});

builder.mutationField("resetPassword", (t) =>
  t.field({
    type: ResetPasswordPayload,
    description: "Sets the password with an emailed link's token, signs the account out everywhere and opens a new session.",
    errors: { types: [ValidationError, PasswordResetError] },
    args: { input: t.arg({ type: ResetPasswordInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      requireWayInAlone(ctx, "resetPassword");
      const done = await resetPassword(ctx.db, input, sessionOptions(ctx));
      forgetCallersAfterCommit(ctx, (v) => v.kind === "user" && v.userId === done.userId);
      return done;
    },
  }),
);
