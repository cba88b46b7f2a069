// The people credentials are issued to. One row per email per tenant (emails are stored lower-case,
// so uniqueness is case-insensitive); created by issuance or managed directly.
import type { Db } from "../../db/tenant-transaction.js";
import { pgError } from "../../db/errors.js";
import { ExpectedError, NotFoundError, ValidationError, type FieldProblem } from "../../errors.js";
import { recordAudit } from "../audit/service.js";
import { isUuid, type Caller } from "../common/caller.js";

export interface RecipientInput {
  email: string;
  name?: string | null;
  externalId?: string | null;
  locale?: string | null;
  attributes?: Record<string, unknown> | null;
}

export class RecipientExistsError extends ExpectedError {
  override name = "RecipientExistsError";
  constructor(what: string) {
    super(`A recipient with this ${what} already exists`);
  }
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const LOCALE = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;

export function checkRecipient(input: RecipientInput, base: string[] = ["input"]) {
  const problems: FieldProblem[] = [];
  const email = input.email.trim().toLowerCase();
  if (!EMAIL.test(email) || email.length > 320) problems.push({ path: [...base, "email"], message: "Not a valid email address" });
  if ((input.name?.length ?? 0) > 200) problems.push({ path: [...base, "name"], message: "At most 200 characters" });
  if ((input.externalId?.length ?? 0) > 200) problems.push({ path: [...base, "externalId"], message: "At most 200 characters" });
  const locale = input.locale ?? "en";
  if (!LOCALE.test(locale)) problems.push({ path: [...base, "locale"], message: "Use a language tag such as en or pt-BR" });
  if (input.attributes && JSON.stringify(input.attributes).length > 10_000) problems.push({ path: [...base, "attributes"], message: "At most 10 KB" });
  if (problems.length) throw new ValidationError(problems[0]!.message, problems);
  return { email, name: input.name?.trim() || null, externalId: input.externalId?.trim() || null, locale, attributes: (input.attributes ?? {}) as object };
}

function mapUnique(error: unknown): never {
  const pg = pgError(error);
  if (pg?.code === "23505") throw new RecipientExistsError(pg.constraint === "recipients_external_id" ? "external id" : "email");
  throw error;
}

export async function createRecipient(db: Db, caller: Caller, input: RecipientInput) {
  const data = checkRecipient(input);
  const recipient = await db.recipient.create({ data: { tenantId: caller.tenantId, ...data } }).catch(mapUnique);
  await recordAudit(db, caller, { action: "recipient.created", targetType: "Recipient", targetId: recipient.id });
  return recipient;
}

/** Finds the tenant's recipient by email, creating it from the input when absent (issuance). */
export async function upsertRecipient(db: Db, caller: Caller, input: RecipientInput, base: string[] = ["input", "recipient"]) {
  const data = checkRecipient(input, base);
  const existing = await db.recipient.findUnique({ where: { tenantId_email: { tenantId: caller.tenantId, email: data.email } } });
  if (existing) return existing;
  await db.recipient.createMany({ data: [{ tenantId: caller.tenantId, ...data }], skipDuplicates: true });
  return db.recipient.findUniqueOrThrow({ where: { tenantId_email: { tenantId: caller.tenantId, email: data.email } } });
}

export async function findRecipient(db: Db, caller: Caller, id: string) {
  const recipient = isUuid(id) ? await db.recipient.findUnique({ where: { tenantId_id: { tenantId: caller.tenantId, id } } }) : null;
  if (!recipient) throw new NotFoundError("Recipient");
  return recipient;
}

export async function updateRecipient(db: Db, caller: Caller, id: string, input: RecipientInput) {
  await findRecipient(db, caller, id);
  const data = checkRecipient(input);
  const recipient = await db.recipient
    .update({ where: { tenantId_id: { tenantId: caller.tenantId, id } }, data })
    .catch(mapUnique);
  await recordAudit(db, caller, { action: "recipient.updated", targetType: "Recipient", targetId: id });
  return recipient;
}
