// Reads the PostgreSQL error behind a Prisma error (driver adapters nest it), so services can map a
// known SQLSTATE or constraint to a typed result instead of a masked failure.

export interface PgErrorInfo {
  code: string | undefined;
  constraint: string | undefined;
  message: string | undefined;
}

export function pgError(error: unknown): PgErrorInfo | null {
  const e = error as {
    code?: string;
    meta?: { driverAdapterError?: { cause?: Record<string, unknown> }; code?: string; target?: unknown; constraint?: unknown };
    cause?: unknown;
  };
  const cause = e?.meta?.driverAdapterError?.cause;
  if (cause) {
    const code = (cause.originalCode ?? cause.code) as string | undefined;
    const constraint = (cause.constraint as { index?: string } | undefined)?.index ?? (cause.originalMessage as string | undefined)?.match(/constraint "([^"]+)"/)?.[1];
    return { code, constraint, message: (cause.originalMessage ?? cause.message) as string | undefined };
  }
  if (typeof e?.code === "string" && /^[0-9A-Z]{5}$/.test(e.code)) {
    const pg = e as { code: string; constraint_name?: string; message?: string };
    return { code: pg.code, constraint: pg.constraint_name, message: pg.message };
  }
  return null;
}
