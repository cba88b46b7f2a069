// The people credentials are issued to. One row per email per tenant (emails are normalised lower-case
// and their blind index is unique, so uniqueness is case-insensitive); created by issuance or managed
// directly. Email, name and attributes are sealed at rest (personal.ts); services return them opened.
import { randomUUID } from "node:crypto";
import type { Prisma } from "../../generated/prisma/client.js";
import type { Db } from "../../db/tenant-transaction.js";
import { tenantKeys } from "../vault/vault.js";
import { nameWords } from "../vault/blind-index.js";
import { byEmail, LEGACY_CLEARED, openRecipient, sealRecipient } from "./personal.js";
import { pgError } from "../../db/errors.js";
import { ExpectedError, NotFoundError, ValidationError, type FieldProblem } from "../../errors.js";
import { recordAudit } from "../audit/service.js";
import { isUuid, type Caller } from "../common/caller.js";
import { normaliseEmail } from "../../lib/email-address.js";
import { nfc, nfcTree, personNameProblem, textProblem, textProblemsIn } from "../../lib/text.js";

export interface RecipientInput {
  email: string;
  name?: string | null;
  externalId?: string | null;
  locale?: string | null;
  attributes?: Record<string, unknown> | null;
}

export class RecipientExistsError extends ExpectedError {
  override name = "RecipientExistsError";
  constructor(
    what: "email" | "external id",
    /** The input path of the clashing value. */
    readonly path: string[] = ["input", what === "email" ? "email" : "externalId"],
  ) {
    super(`Another recipient already has this ${what}`);
  }
}

/**
 * updateRecipient was asked to change a name or email. Signed credentials name the person, so a
 * correction must re-issue them: that is rectifyRecipient's (privacy:manage), never a plain update.
 */
export class RectificationRequiredError extends ExpectedError {
  override name = "RectificationRequiredError";
  constructor(readonly fields: string[]) {
    super(`A recipient's ${fields.join(" and ")} can only be corrected with rectifyRecipient, which re-issues their credentials; give them unchanged here`);
  }
}

const LOCALE = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;

/**
 * Checks a recipient's details and returns them as stored: email normalised by lib/email-address.ts,
 * text in NFC (lib/text.ts), name a person's name (lib/text personNameProblem: one line, no bidi
 * controls or tag characters, something visible). Throws ValidationError with one problem per field, under
 * `base` (["input"] for GraphQL; a bulk row's problems are reported by column).
 */
export function checkRecipient(input: RecipientInput, base: string[] = ["input"]) {
  const problems: FieldProblem[] = [];
  const text = (field: keyof RecipientInput, value: string | null | undefined): string | null => {
    if (value === null || value === undefined) return null;
    const problem = textProblem(value);
    if (problem) problems.push({ path: [...base, field], message: problem });
    return problem ? null : nfc(value).trim() || null;
  };
  const checked = normaliseEmail(input.email ?? "");
  if (!checked.ok) problems.push({ path: [...base, "email"], message: `Not a valid email address: ${checked.reason}` });
  const name = text("name", input.name);
  // Only spaces (of any kind) is not "no name": leave the field out, or empty, for that; never drop it silently.
  if (name === null && input.name && !textProblem(input.name)) {
    problems.push({ path: [...base, "name"], message: "A name needs at least one visible letter, digit or symbol (leave it out for no name)" });
  }
  const externalId = text("externalId", input.externalId);
  if ((name?.length ?? 0) > 200) problems.push({ path: [...base, "name"], message: "At most 200 characters" });
  const nameProblem = name ? personNameProblem(name) : null;
  if (nameProblem) problems.push({ path: [...base, "name"], message: nameProblem });
  if ((externalId?.length ?? 0) > 200) problems.push({ path: [...base, "externalId"], message: "At most 200 characters" });
  const locale = text("locale", input.locale) ?? "en";
  if (!LOCALE.test(locale)) problems.push({ path: [...base, "locale"], message: "Use a language tag such as en or pt-BR" });
  problems.push(...textProblemsIn(input.attributes ?? {}, [...base, "attributes"]));
  if (input.attributes && JSON.stringify(input.attributes).length > 10_000) problems.push({ path: [...base, "attributes"], message: "At most 10 KB" });
  if (problems.length || !checked.ok) throw new ValidationError(problems[0]!.message, problems);
  return { email: checked.email, name, externalId, locale, attributes: nfcTree(input.attributes ?? {}) as Record<string, unknown> };
}

function mapUnique(error: unknown): never {
  const pg = pgError(error);
  if (pg?.code === "23505") throw new RecipientExistsError(pg.constraint === "recipients_external_id" ? "external id" : "email");
  throw error;
}

export type OpenedRecipient = Awaited<ReturnType<typeof findRecipient>>;

export async function createRecipient(db: Db, caller: Caller, input: RecipientInput) {
  const data = checkRecipient(input);
  const keys = await tenantKeys(db, caller.tenantId);
  const id = randomUUID();
  const row = await db.recipient
    .create({ data: { tenantId: caller.tenantId, id, externalId: data.externalId, locale: data.locale, ...sealRecipient(keys, id, data) } })
    .catch(mapUnique);
  await recordAudit(db, caller, { action: "recipient.created", targetType: "Recipient", targetId: id });
  return { ...row, ...openRecipient(keys, row) };
}

/** Finds the tenant's recipient by (normalised) email, sealed or legacy, opened; or null. */
export async function findRecipientByEmail(db: Db, tenantId: string, email: string) {
  const keys = await tenantKeys(db, tenantId);
  const row = await db.recipient.findFirst({ where: { tenantId, ...byEmail(keys, email) } });
  // Opened with keys that include the row's version (a rotation may have begun since they were cached).
  return row ? { ...row, ...openRecipient(await tenantKeys(db, tenantId, row.keyVersion), row) } : null;
}

/** Finds the tenant's recipient by email, creating it from the input when absent (issuance). */
export async function upsertRecipient(db: Db, caller: Caller, input: RecipientInput, base: string[] = ["input", "recipient"]) {
  const data = checkRecipient(input, base);
  const existing = await findRecipientByEmail(db, caller.tenantId, data.email);
  if (existing) return existing;
  const keys = await tenantKeys(db, caller.tenantId);
  const id = randomUUID();
  await db.recipient.createMany({
    data: [{ tenantId: caller.tenantId, id, externalId: data.externalId, locale: data.locale, ...sealRecipient(keys, id, data) }],
    skipDuplicates: true,
  });
  const created = await findRecipientByEmail(db, caller.tenantId, data.email);
  // Not created and not there by email: another recipient holds its external id.
  if (!created) throw new RecipientExistsError("external id", [...base, "externalId"]);
  return created;
}

export async function findRecipient(db: Db, caller: Caller, id: string) {
  const row = isUuid(id) ? await db.recipient.findUnique({ where: { tenantId_id: { tenantId: caller.tenantId, id } } }) : null;
  if (!row) throw new NotFoundError("Recipient");
  const keys = await tenantKeys(db, caller.tenantId, row.keyVersion);
  return { ...row, ...openRecipient(keys, row) };
}

/**
 * Updates a recipient's external id, locale and attributes. Their name and email must come back
 * unchanged (compared after normalisation): a change there is RectificationRequiredError, since every
 * signed document naming them would otherwise disagree with the record (GDPR Art. 16 and 5(1)(d)).
 */
export async function updateRecipient(db: Db, caller: Caller, id: string, input: RecipientInput) {
  const current = await findRecipient(db, caller, id);
  const data = checkRecipient(input);
  const changed = [...(data.name !== current.name ? ["name"] : []), ...(data.email !== current.email ? ["email"] : [])];
  if (changed.length) throw new RectificationRequiredError(changed);
  const keys = await tenantKeys(db, caller.tenantId);
  const row = await db.recipient
    .update({ where: { tenantId_id: { tenantId: caller.tenantId, id } }, data: { externalId: data.externalId, locale: data.locale, ...sealRecipient(keys, id, data), ...LEGACY_CLEARED } })
    .catch(mapUnique);
  await recordAudit(db, caller, { action: "recipient.updated", targetType: "Recipient", targetId: id });
  return { ...row, ...openRecipient(keys, row) };
}

/**
 * The filter for the recipients list's search: a whole (normalised) email address by its blind index,
 * otherwise every word of the name (blind-index.ts nameWords) among the row's name-word indexes.
 * Nothing matches a search with no usable word.
 */
/** Recipients a name search can list (a page of results is far smaller). */
export const MAX_NAME_MATCHES = 1_000;

export async function searchFilter(db: Db, tenantId: string, search: string): Promise<Prisma.RecipientWhereInput> {
  const keys = await tenantKeys(db, tenantId);
  const term = search.trim();
  if (term.includes("@")) {
    const checked = normaliseEmail(term);
    return checked.ok ? byEmail(keys, checked.email) : { id: { in: [] } };
  }
  const words = nameWords(nfc(term));
  if (!words.length) return { id: { in: [] } };
  // Containment of bytea arrays is asked in SQL (the GIN index answers it); Prisma's hasEvery does not
  // match bytea elements. At most MAX_NAME_MATCHES people share all the words searched for.
  const indexes = words.map((w) => Buffer.from(keys.blindIndex("name-word", w)));
  const rows = await db.$queryRaw<{ id: string }[]>`select id::text from recipients
    where tenant_id = ${tenantId}::uuid and name_words @> ${indexes}::bytea[] limit ${MAX_NAME_MATCHES}`;
  return { OR: [{ id: { in: rows.map((r) => r.id) } }, { legacyName: { contains: term, mode: "insensitive" } }] };
}
