// Bulk issuance: a job is created with all its rows (bad rows are failed at once, with their
// problems); a runner then issues the rest in chunks, each chunk one transaction that signs, records,
// audits and queues email for its credentials and marks its rows, so work is never done twice.
import type { Db } from "../../db/tenant-transaction.js";
import type { Prisma } from "../../generated/prisma/client.js";
import { NotFoundError, ValidationError } from "../../errors.js";
import { recordAudit } from "../audit/service.js";
import { isUuid, type Caller } from "../common/caller.js";
import { checkSharedTexts, findTemplate, TemplateNotIssuableError, type CustomField } from "../templates/service.js";
import { tenantTimeZone } from "../tenants/service.js";
import { addCalendarDays } from "../../lib/calendar.js";
import { checkRecipient } from "../recipients/service.js";
import { openRecipient, sealRecipient, SEALED_RECIPIENT, type RecipientPersonal } from "../recipients/personal.js";
import { tenantKeys } from "../vault/vault.js";
import { hex } from "../vault/batch-sql.js";
import { activeSigningKey, getProfile, type IssuerSettings } from "../issuers/service.js";
import { issuerDid } from "../issuers/identity.js";
import { buildCredential, urls } from "../credentials/document.js";
import { sealDocument } from "../credentials/sealed-document.js";
import { checkFieldValues, replaceAwards } from "../credentials/service.js";
import { normaliseEmail } from "../../lib/email-address.js";
import { allocatorFor } from "../credentials/status-lists.js";
import { signCredential } from "../credentials/vc/proofs.js";
import { createDocumentLoader } from "../credentials/vc/document-loader.js";
import { checkRow, cleanRowText, MAX_ROWS, withExactDates, type BulkRow, type RowProblem } from "./rows.js";
import { addPeopleProblems } from "./people.js";
import { storableTree } from "../../lib/text.js";
import { alreadyAwarded, awardsOf, uniqueAward, type Award } from "../credentials/duplicates.js";
import { emitPartnerEvents, enqueueJob } from "../jobs/enqueue.js";
import { queueEmails } from "../outbox/service.js";
import { GuardianConsentRequiredError, mayProcess } from "../privacy/processing.js";
import type { MailSettings } from "../delivery/compose.js";
import { insertAudit, insertCredentials, insertRows, markRows } from "./sql.js";
import { openRow } from "./sealed-rows.js";

// What issuing needs of each row's person, and what the processing rule reads.
/** What issuing needs of a new recipient beyond the personal data in hand. */
const NEW_RECIPIENT_FACTS = {
  id: true, tenantId: true, keyVersion: true, emailIndex: true, locale: true,
  trackingConsent: true, restrictedAt: true, objectedAt: true, isChild: true, birthDate: true, guardianConsentAt: true,
} as const;
/** ... and of a known one, whose personal data is opened from its row. */
const RECIPIENT_FACTS = { ...SEALED_RECIPIENT, ...NEW_RECIPIENT_FACTS } as const;
type Issuable = Prisma.RecipientGetPayload<{ select: typeof NEW_RECIPIENT_FACTS }> & RecipientPersonal;

const contextsOnly = createDocumentLoader();

export async function createBulkJob(db: Db, caller: Caller, templateId: string, rows: BulkRow[], source: "ROWS" | "CSV") {
  // The field the rows came from: a file with a header and no rows is the file's fault, not `rows`'.
  const field = ["input", source === "CSV" ? "csv" : "rows"];
  if (rows.length === 0) throw ValidationError.field(field, source === "CSV" ? "The file has a header but no rows: give at least one row" : "Give at least one row");
  if (rows.length > MAX_ROWS) throw ValidationError.field(field, `At most ${MAX_ROWS.toLocaleString("en")} rows`);
  const template = await findTemplate(db, caller, templateId);
  if (template.status !== "ACTIVE") throw new TemplateNotIssuableError(template.status);
  const version = await db.templateVersion.findUniqueOrThrow({
    where: { tenantId_templateId_version: { tenantId: caller.tenantId, templateId, version: template.currentVersion } },
  });
  checkSharedTexts(version);
  const fields = version.customFields as unknown as CustomField[];
  // Date-only cells are read in the tenant's zone now, and stored as exact instants.
  const timeZone = await tenantTimeZone(db, caller.tenantId);
  const checked = rows.map((input, i) => {
    const { row, problems } = cleanRowText(i + 1, input);
    const columns = new Set(problems.map((p) => p.column));
    // A value that is not text is reported once, as such, not again by the column's own check.
    const own = checkRow(i + 1, row, fields, timeZone).filter((p) => !columns.has(p.column));
    return { rowNumber: i + 1, row: withExactDates(row, timeZone), problems: [...problems, ...own] };
  });
  await addPeopleProblems(await tenantKeys(db, caller.tenantId), templateId, template.duplicatePolicy, checked);
  for (const c of checked) c.problems = storableTree(c.problems);
  const failed = checked.filter((c) => c.problems.length).length;
  const job = await db.bulkJob.create({
    data: {
      tenantId: caller.tenantId,
      templateId,
      source,
      totalRows: rows.length,
      failedCount: failed,
      status: failed === rows.length ? "COMPLETED" : "PENDING",
      createdByKind: caller.actor.kind,
      createdById: caller.actor.id,
    },
  });
  for (let start = 0; start < checked.length; start += 5000) {
    await insertRows(await tenantKeys(db, caller.tenantId), job.id, checked.slice(start, start + 5000));
  }
  // The work is queued in this transaction: a committed job always runs, a rolled-back one never.
  if (job.status === "PENDING") await enqueueJob(db, "run_bulk_job", { bulkJobId: job.id }, { jobKey: `bulk:${job.id}`, maxAttempts: 5 });
  await recordAudit(db, caller, {
    action: "bulk_issuance.created",
    targetType: "BulkJob",
    targetId: job.id,
    details: { templateId, rows: rows.length, invalidRows: failed, source },
  });
  return job;
}

export async function findBulkJob(db: Db, tenantId: string, id: string) {
  const job = isUuid(id) ? await db.bulkJob.findUnique({ where: { tenantId_id: { tenantId, id } } }) : null;
  if (!job) throw new NotFoundError("BulkJob");
  return job;
}

export interface ChunkHooks {
  /** Called after the chunk's writes, before commit: tests use it to simulate a crash. */
  beforeCommit?: (issued: number) => void | Promise<void>;
}

/**
 * Issues the next `size` pending rows of a job in the caller's transaction. Returns whether the job
 * has no pending rows left (and is then marked completed).
 */
export async function processChunk(
  db: Db,
  tenantId: string,
  jobId: string,
  settings: IssuerSettings & MailSettings,
  size = 250,
  hooks: ChunkHooks = {},
): Promise<{ done: boolean; issued: number; failed: number }> {
  // Several chunk transactions may run at once on one job: each takes rows no other holds.
  const job = await findBulkJob(db, tenantId, jobId);
  const caller: Caller = { tenantId, actor: { kind: job.createdByKind, id: job.createdById }, permissions: new Set(), requestId: `bulk:${jobId}` };
  const sealedRows = await db.$queryRaw<{ row_number: number; id: string; key_version: number | null; input_sealed: Uint8Array | null; legacy_input: unknown }[]>`
    select row_number, id, key_version, input_sealed, legacy_input from bulk_job_rows
     where tenant_id = ${tenantId}::uuid and job_id = ${jobId}::uuid and status = 'PENDING'
     order by row_number limit ${size} for update skip locked`;
  const rowKeys = sealedRows.length ? await tenantKeys(db, tenantId) : null;
  const rows = sealedRows.map((r) => ({ row_number: r.row_number, input: openRow(rowKeys!, r) }));
  if (rows.length === 0) {
    // Rows another chunk holds are still PENDING here (uncommitted): the job is done only when none are.
    const [pending] = await db.$queryRaw<{ n: number }[]>`
      select count(*)::int as n from bulk_job_rows where tenant_id = ${tenantId}::uuid and job_id = ${jobId}::uuid and status = 'PENDING'`;
    if (pending!.n > 0) return { done: false, issued: 0, failed: 0 };
    await db.bulkJob.update({ where: { tenantId_id: { tenantId, id: jobId } }, data: { status: "COMPLETED", finishedAt: new Date() } });
    return { done: true, issued: 0, failed: 0 };
  }
  const template = await db.template.findUniqueOrThrow({ where: { tenantId_id: { tenantId, id: job.templateId } } });
  const version = await db.templateVersion.findUniqueOrThrow({
    where: { tenantId_templateId_version: { tenantId, templateId: template.id, version: template.currentVersion } },
  });
  const fields = version.customFields as unknown as CustomField[];
  const outcomes = new Map<number, { credentialId?: string; problems?: RowProblem[] }>();

  // Idempotency keys already used (by earlier jobs or single issuance) return those credentials.
  const keys = rows.map((r) => r.input.idempotencyKey).filter((k): k is string => Boolean(k));
  const existing = keys.length
    ? await db.credential.findMany({ where: { tenantId, idempotencyKey: { in: keys } }, select: { id: true, idempotencyKey: true } })
    : [];
  const byKey = new Map(existing.map((c) => [c.idempotencyKey!, c.id]));
  const seenKeys = new Set<string>();
  const toIssue: { rowNumber: number; row: BulkRow; values: Record<string, string> }[] = [];
  for (const { row_number, input } of rows) {
    const key = input.idempotencyKey;
    if (key && byKey.has(key)) {
      outcomes.set(row_number, { credentialId: byKey.get(key)! });
      continue;
    }
    if (key && seenKeys.has(key)) {
      outcomes.set(row_number, { problems: [{ row: row_number, column: "idempotency_key", message: "Repeats an earlier row's key" }] });
      continue;
    }
    if (key) seenKeys.add(key);
    try {
      toIssue.push({ rowNumber: row_number, row: input, values: checkFieldValues(fields, input.fieldValues ?? {}, []) });
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      outcomes.set(row_number, { problems: error.fieldErrors.map((p) => ({ row: row_number, column: p.path.at(-1)!, message: p.message })) });
    }
  }

  // Recipients: one read by blind index of the email, one insert of the missing that returns their
  // facts. A new recipient's personal data is the row's own (just checked and sealed), so it is not read
  // back and opened; a known one's is opened from its row.
  const emailOf = (row: BulkRow) => (normaliseEmail(row.email) as { email: string }).email;
  const recipientData = new Map(toIssue.map((t) => [emailOf(t.row), checkRecipient({ ...t.row }, [])]));
  const emails = [...recipientData.keys()];
  const sealing = await tenantKeys(db, tenantId);
  const indexByEmail = new Map(emails.map((e) => [e, sealing.blindIndex("email", e)]));
  const emailByIndex = new Map(emails.map((e) => [hex(indexByEmail.get(e)!)!, e]));
  const emailOfRow = (r: { emailIndex: Uint8Array | null; legacyEmail?: string | null }) =>
    r.emailIndex ? emailByIndex.get(hex(r.emailIndex)!) : (r.legacyEmail ?? undefined);
  const lookup = (among: string[]) => ({ tenantId, OR: [{ emailIndex: { in: among.map((e) => indexByEmail.get(e)!) } }, { legacyEmail: { in: among } }] });
  const opened = (rows: Prisma.RecipientGetPayload<{ select: typeof RECIPIENT_FACTS }>[]) =>
    rows.map((r): [string, Issuable] => [emailOfRow(r)!, { ...r, ...openRecipient(sealing, r) }]);
  const recipients = new Map<string, Issuable>(opened(await db.recipient.findMany({ where: lookup(emails), select: RECIPIENT_FACTS })));
  const missing = emails.filter((e) => !recipients.has(e));
  if (missing.length) {
    const created = await db.recipient.createManyAndReturn({
      data: missing.map((e) => {
        const id = crypto.randomUUID();
        const data = recipientData.get(e)!;
        return { tenantId, id, externalId: data.externalId, locale: data.locale, ...sealRecipient(sealing, id, data) };
      }),
      select: NEW_RECIPIENT_FACTS,
      skipDuplicates: true,
    });
    for (const r of created) {
      const email = emailOfRow(r)!;
      const data = recipientData.get(email)!;
      recipients.set(email, { ...r, email, name: data.name, attributes: data.attributes ?? {} });
    }
    // Skipped: created meanwhile by another transaction (read it), or another recipient holds the external id.
    const raced = missing.filter((e) => !recipients.has(e));
    if (raced.length) {
      for (const [email, r] of opened(await db.recipient.findMany({ where: lookup(raced), select: RECIPIENT_FACTS }))) recipients.set(email, r);
    }
  }
  // A recipient that was not created: another one holds the row's external id.
  const policy = template.duplicatePolicy;
  const zone = await tenantTimeZone(db, tenantId);
  const awards = policy === "ALLOW" ? new Map<string, Award[]>() : await awardsOf(tenantId, template.id, [...recipients.values()].map((r) => r.id));
  const replacing = new Map<number, Award[]>();
  for (let n = toIssue.length - 1; n >= 0; n--) {
    const t = toIssue[n]!;
    const recipient = recipients.get(emailOf(t.row));
    const held = recipient ? (awards.get(recipient.id) ?? []) : [];
    let problem: RowProblem | null = null;
    if (!recipient) problem = { row: t.rowNumber, column: "external_id", message: "Another recipient already has this external id" };
    // A child without a guardian's consent gets nothing (GDPR Art. 8): the row says so, the others go on.
    else if (!mayProcess(recipient, "issuance", zone, new Date())) problem = { row: t.rowNumber, column: "email", message: new GuardianConsentRequiredError().message };
    else if (held.length && policy === "REFUSE") problem = { row: t.rowNumber, column: "email", message: alreadyAwarded(held[0]!), credentialId: held[0]!.id };
    else if (held.length) replacing.set(t.rowNumber, held);
    if (problem) {
      outcomes.set(t.rowNumber, { problems: [problem] });
      toIssue.splice(n, 1);
    }
  }

  const allocate = allocatorFor(db, settings.allocateStatus);
  const revocation = toIssue.length ? await allocate(tenantId, "revocation", toIssue.length) : [];
  const suspension = toIssue.length ? await allocate(tenantId, "suspension", toIssue.length) : [];
  const key = toIssue.length ? await activeSigningKey(db, tenantId, settings) : null;
  const profile = await getProfile(db, tenantId);
  const did = issuerDid(settings.publicUrl, tenantId);
  const now = new Date();
  const timeZone = version.validity === "DAYS_AFTER_ISSUE" ? await tenantTimeZone(db, tenantId) : "UTC";

  const drafts = toIssue.map((t, i) => {
    const recipient = recipients.get(emailOf(t.row))!;
    const validFrom = t.row.issuedAt ? new Date(t.row.issuedAt) : now;
    const validUntil = t.row.validUntil
      ? new Date(t.row.validUntil)
      : version.validity === "DAYS_AFTER_ISSUE"
        ? addCalendarDays(validFrom, version.validityDays!, timeZone)
        : version.validity === "FIXED_DATE"
          ? version.validUntil
          : null;
    const id = crypto.randomUUID();
    const unsigned = buildCredential({
      credentialId: id,
      tenantId,
      publicUrl: settings.publicUrl,
      did,
      profile,
      achievement: { ...version, kind: template.kind },
      recipientEmail: recipient.email,
      recipientName: recipient.name,
      fieldValues: t.values,
      validFrom,
      validUntil,
      evidence: [],
      revocation: revocation[i]!,
    });
    return { t, i, id, recipient, validFrom, validUntil, unsigned };
  });
  const documents = drafts.length
    ? settings.signPool
      ? await settings.signPool.signMany(drafts.map((d) => d.unsigned), key!)
      : await Promise.all(drafts.map((d) => signCredential(d.unsigned, key!, contextsOnly)))
    : [];
  const all = drafts.map((d, n) => {
    return {
      id: d.id,
      recipientId: d.recipient.id,
      statusListId: revocation[d.i]!.listId,
      statusIndex: revocation[d.i]!.index,
      suspensionListId: suspension[d.i]!.listId,
      suspensionIndex: suspension[d.i]!.index,
      validFrom: d.validFrom,
      validUntil: d.validUntil,
      fieldValues: d.t.values,
      ...sealDocument(sealing, "credentials", d.id, documents[n]!),
      idempotencyKey: d.t.row.idempotencyKey || null,
      recipient: d.recipient,
      rowNumber: d.t.rowNumber,
    };
  });
  for (const c of all) await replaceAwards(db, caller, replacing.get(c.rowNumber) ?? [], c.id, settings);
  const inserted = await insertCredentials(tenantId, template.id, version.version, all, uniqueAward(policy), jobId);
  const credentials = all.filter((c) => inserted.has(c.id));
  for (const c of credentials) outcomes.set(c.rowNumber, { credentialId: c.id });
  const skipped = all.filter((c) => !inserted.has(c.id));
  // Skipped: an issuance that committed after this chunk looked (credentials_unique_award).
  const latest = skipped.length ? await awardsOf(tenantId, template.id, skipped.map((c) => c.recipientId)) : new Map<string, Award[]>();
  for (const c of skipped) {
    const award = latest.get(c.recipientId)?.[0];
    outcomes.set(c.rowNumber, { problems: [{ row: c.rowNumber, column: "email", message: award ? alreadyAwarded(award) : "Already awarded to this person", ...(award ? { credentialId: award.id } : {}) }] });
  }
  const outbox = credentials.map((c) => ({
    kind: "credential_issued",
    toEmail: c.recipient.email,
    locale: c.recipient.locale,
    idempotencyKey: `credential_issued:${c.id}`,
    credentialId: c.id,
    recipientId: c.recipientId,
    payload: { credentialId: c.id, credentialUrl: urls.credential(settings.publicUrl, tenantId, c.id), name: version.name },
  }));
  await queueEmails(db, settings, tenantId, outbox);
  await emitPartnerEvents(db, "credential.issued", credentials.map((c) => ({ credentialId: c.id, recipientId: c.recipientId, templateId: template.id, bulkJobId: jobId })));
  await insertAudit(
    tenantId,
    caller.actor,
    caller.requestId,
    credentials.map((c) => ({
      action: "credential.issued",
      targetType: "Credential",
      targetId: c.id,
      details: { templateId: template.id, version: version.version, recipientId: c.recipientId, bulkJobId: jobId },
    })),
  );

  const marks = [...outcomes].map(([rowNumber, o]) => ({
    rowNumber,
    status: o.credentialId ? ("ISSUED" as const) : ("FAILED" as const),
    credentialId: o.credentialId ?? null,
    problems: o.problems ?? [],
  }));
  await markRows(tenantId, jobId, marks);
  const issued = marks.filter((m) => m.status === "ISSUED").length;
  const failed = marks.length - issued;
  await db.$executeRaw`
    update bulk_jobs set issued_count = issued_count + ${issued}, failed_count = failed_count + ${failed}
     where tenant_id = ${tenantId}::uuid and id = ${jobId}::uuid`;
  await hooks.beforeCommit?.(issued);
  return { done: false, issued, failed };
}
