// What each member role and API key scope may do. Fields ask for a permission, never a role, so the
// mapping lives here alone. Analysts get aggregates only: no permission that reveals people.
// privacy:manage (people's rights requests) is the owner's and admins' alone. tenant:export (the whole
// tenant as a ZIP, sealed signing keys included) is the owner's alone, and no API key scope carries it:
// a key is a long-lived bearer secret held by integrations, and taking everything away should need an
// owner signed in. keys:rotate (a new data key, every sealed row re-sealed) is the owner's alone too;
// keys:read (key versions and rotation progress: metadata, no key) the owner's, admins' and the admin
// scope's, so a monitoring key can watch a rotation and an admin key can still grant the admin role.
import type { ApiKeyScope, MemberRole } from "../../generated/prisma/enums.js";
import { forbidden } from "../../errors.js";

export const PERMISSIONS = [
  "tenant:read",
  "tenant:manage",
  "members:read",
  "members:manage",
  "owners:manage",
  "apikeys:manage",
  "audit:read",
  "personal:read",
  "issue",
  "analytics",
  "export",
  "privacy:manage",
  "tenant:export",
  "keys:read",
  "keys:rotate",
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const everything = new Set<Permission>(PERMISSIONS);

export const ROLE_PERMISSIONS: Record<MemberRole, ReadonlySet<Permission>> = {
  owner: everything,
  admin: new Set(PERMISSIONS.filter((p) => p !== "owners:manage" && p !== "tenant:export" && p !== "keys:rotate")),
  issuer: new Set(["tenant:read", "members:read", "personal:read", "issue"]),
  analyst: new Set(["tenant:read", "analytics"]),
  viewer: new Set(["tenant:read", "members:read", "personal:read"]),
};

export const SCOPE_PERMISSIONS: Record<ApiKeyScope, readonly Permission[]> = {
  read: ["tenant:read", "members:read", "personal:read"],
  issue: ["tenant:read", "issue"],
  analytics: ["tenant:read", "analytics"],
  export: ["tenant:read", "export", "personal:read"],
  admin: ["tenant:read", "tenant:manage", "members:read", "members:manage", "apikeys:manage", "audit:read", "keys:read"],
  // Handling a person's request means seeing who the person is.
  privacy: ["tenant:read", "privacy:manage", "personal:read"],
};

export function permissionsForScopes(scopes: readonly ApiKeyScope[]): Set<Permission> {
  return new Set(scopes.flatMap((s) => SCOPE_PERMISSIONS[s]));
}

/** What `wanted` holds that `held` does not. */
export function missingPermissions(held: ReadonlySet<Permission>, wanted: Iterable<Permission>): Permission[] {
  return [...new Set(wanted)].filter((p) => !held.has(p));
}

/**
 * Nobody hands out a permission they do not hold themselves: a role given to a person (invitation,
 * role change) or a scope given to a key must be a subset of the caller's own permissions. Throws
 * FORBIDDEN naming what is missing and what was being granted (`what`, e.g. "the admin role").
 */
export function assertMayGrant(held: ReadonlySet<Permission>, wanted: Iterable<Permission>, what: string): void {
  const missing = missingPermissions(held, wanted);
  if (missing.length) throw forbidden(`You cannot grant ${what}: it includes ${missing.join(", ")}, which you do not hold`);
}
