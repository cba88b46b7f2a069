// A person's export (GDPR Art. 15 access, Art. 20 portability): the worker gathers what the tenant
// holds about them (export-data.ts) into one ZIP kept in person_exports (sql/032) until it expires, and
// the person is emailed a signed, expiring link to it (export-link.ts). The request is then completed.
import { createHash } from "node:crypto";
import { SEALED_RECIPIENT, withPersonal } from "../recipients/personal.js";
import yazl from "yazl";
import type { Db } from "../../db/tenant-transaction.js";
import { recordAudit } from "../audit/service.js";
import { isUuid } from "../common/caller.js";
import type { TenantTask } from "../jobs/worker.js";
import type { App } from "../../context.js";
import { mailSettings } from "../delivery/compose.js";
import { emailDay } from "../delivery/content.js";
import { queueEmails } from "../outbox/service.js";
import { tenantTimeZone } from "../tenants/service.js";
import { signedExportUrl } from "./export-link.js";
import { rightsAddress } from "./guardian.js";
import { emitRequestClosed } from "./partner-events.js";
import { readFileSync } from "node:fs";
import { collectPersonData, EXPORT_FORMAT_VERSION, EXPORT_README, personCsvFiles, processingInformation, type PersonData, type ProcessingFacts } from "./export-data.js";

/** The JSON Schema of person.json, shipped in every ZIP (schema/ sits three folders above src/ and dist/ modules alike). */
const PERSON_SCHEMA = readFileSync(new URL("../../../schema/person-export.schema.json", import.meta.url), "utf8");

/** How long an export and its link live: long enough for the person to fetch it, short enough not to linger. */
export const EXPORT_TTL_MS = 7 * 24 * 3600 * 1000;

/**
 * The ZIP's files, by path: person.json and its schema, csv/*.csv, credentials/<id>.json (as published),
 * README.txt (the format, then the Art. 15(1) information about the processing, from `facts`).
 */
export function personExportFiles(data: PersonData, facts: ProcessingFacts): Record<string, string> {
  const files: Record<string, string> = {
    "README.txt": EXPORT_README + processingInformation(data.controller.name, facts),
    "person.json": JSON.stringify(data, null, 2),
    "person-export.schema.json": PERSON_SCHEMA,
    ...personCsvFiles(data),
  };
  // Serialised as the public endpoint serves it (src/public/routes.ts), so the bytes match.
  for (const c of data.credentials) if (c.document) files[`credentials/${c.id}.json`] = JSON.stringify(c.document, null, 2);
  return files;
}

export function zipFiles(files: Record<string, string>, mtime: Date): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [path, text] of Object.entries(files)) zip.addBuffer(Buffer.from(text, "utf8"), path, { mtime });
  zip.end();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    zip.outputStream.on("data", (c: Buffer) => chunks.push(c));
    zip.outputStream.on("end", () => resolve(Buffer.concat(chunks)));
    zip.outputStream.on("error", reject);
  });
}

export const isExportKind = (kind: string) => kind === "access" || kind === "portability";

/** The worker's half: gather, zip, store, complete, in one tenant transaction (all or nothing). */
export const exportPersonTask: TenantTask<{ requestId: string }> = async (app, job) => {
  await job.inTenant(async (db) => {
    const { tenantId, caller } = job;
    const request = isUuid(job.payload.requestId)
      ? await db.dataSubjectRequest.findUnique({ where: { tenantId_id: { tenantId, id: job.payload.requestId } }, include: { personExport: { select: { id: true } } } })
      : null;
    if (!request || !isExportKind(request.kind) || request.state !== "in_progress" || !request.recipientId || request.personExport) return;
    const now = new Date();
    const data = await collectPersonData(db, tenantId, request.recipientId, app.config.publicUrl, now);
    const endpoints = await db.webhookEndpoint.findMany({ where: { tenantId, enabled: true }, select: { url: true } });
    const facts: ProcessingFacts = {
      emailProvider: app.config.email.resendApiKey ? "Resend (resend.com)" : null,
      partnerHosts: [...new Set(endpoints.map((e) => new URL(e.url).host))].sort(),
    };
    const bytes = await zipFiles(personExportFiles(data, facts), now);
    const stored = await db.personExport.create({
      data: {
        tenantId,
        requestId: request.id,
        recipientId: request.recipientId,
        bytes: new Uint8Array(bytes),
        sha256: createHash("sha256").update(bytes).digest("hex"),
        formatVersion: EXPORT_FORMAT_VERSION,
        createdAt: now,
        expiresAt: new Date(now.getTime() + EXPORT_TTL_MS),
      },
      select: { id: true, expiresAt: true },
    });
    const counts = { credentials: data.credentials.length, emails: data.emails.length, engagementEvents: data.engagementEvents.length, bytes: bytes.length };
    const sentTo = await sendExportLink(db, app.config, tenantId, request.recipientId, request.id, request.kind, stored, now);
    const delivery =
      sentTo === "person" ? "emailed to the person"
      : sentTo === "guardian" ? "emailed to the child's guardian on record"
      : "nobody was emailed (a child with no guardian on record): hand the link (export { url }) over yourselves";
    const { count } = await db.dataSubjectRequest.updateMany({
      where: { tenantId, id: request.id, state: "in_progress" },
      data: {
        state: "completed",
        completedAt: now,
        outcome: `Exported: ${counts.credentials} credential(s), ${counts.emails} email(s), ${counts.engagementEvents} engagement event(s); the download link, ${delivery}, expires at ${stored.expiresAt.toISOString()}`,
      },
    });
    if (count === 1) await emitRequestClosed(db, await db.dataSubjectRequest.findUniqueOrThrow({ where: { tenantId_id: { tenantId, id: request.id } } }));
    await recordAudit(db, caller, { action: "data_subject_request.exported", targetType: "DataSubjectRequest", targetId: request.id, details: { ...counts, sentTo } });
  });
};

/**
 * The person gets their data (Art. 15(3)): the signed link, emailed to the address on record (for a child,
 * to their guardian on record), which is the address their identity was checked against. The link is a
 * secret: carried as acceptUrl, forgotten once the message has left, never kept in the stored outbox.
 * Returns who it was sent to: the person, their guardian, or nobody (null).
 */
async function sendExportLink(
  db: Db,
  config: App["config"],
  tenantId: string,
  recipientId: string,
  requestId: string,
  kind: string,
  stored: { id: string; expiresAt: Date },
  now: Date,
): Promise<"person" | "guardian" | null> {
  const row = await db.recipient.findUniqueOrThrow({ where: { tenantId_id: { tenantId, id: recipientId } }, select: { ...SEALED_RECIPIENT, locale: true, isChild: true, birthDate: true } });
  const person = (await withPersonal(db, tenantId, [row]))[0]!;
  const timeZone = await tenantTimeZone(db, tenantId);
  // A child's data goes to their guardian only; with none on record, staff hand the link over (export { url }).
  const to = await rightsAddress(db, tenantId, person, timeZone, now);
  if (!to) return null;
  await queueEmails(db, mailSettings(config), tenantId, [{
    kind: "person_export_ready",
    toEmail: to.email,
    locale: person.locale,
    recipientId,
    idempotencyKey: `person_export_ready:${requestId}`,
    payload: {
      acceptUrl: signedExportUrl(config, tenantId, stored.id, stored.expiresAt),
      requestKind: kind,
      dueOn: emailDay(stored.expiresAt, timeZone, person.locale),
    },
  }]);
  return to.guardian ? "guardian" : "person";
}

/** Erasure removes the person's exports too: they are copies of what is being erased. */
export async function deletePersonExports(db: Db, tenantId: string, recipientId: string): Promise<number> {
  const { count } = await db.personExport.deleteMany({ where: { tenantId, recipientId } });
  return count;
}
