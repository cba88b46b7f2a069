// What Laurel holds about one person in one tenant, gathered for their export (GDPR Art. 15 and 20):
// the document person.json carries (schema/person-export.schema.json) and the same as CSV sections.
// Every query names the tenant and the recipient; nothing of anyone else is read.
import type { Db } from "../../db/tenant-transaction.js";
import { resultCsv } from "../bulk/download.js";
import { urls } from "../credentials/document.js";
import { openDocument } from "../credentials/sealed-document.js";
import { openListed } from "../delivery/sealed-outbox.js";
import { openRecipient } from "../recipients/personal.js";
import { tenantKeys } from "../vault/vault.js";
import { openGuardian, openRectification, openRequestedChanges } from "./sealed.js";

/** Bumped when a field's meaning changes or one is removed; added fields keep the major number. */
export const EXPORT_FORMAT_VERSION = "1.2";

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

export async function collectPersonData(db: Db, tenantId: string, recipientId: string, publicUrl: string, now = new Date()) {
  // Everything sealed at rest (sql/044, 047, 048) is opened here: the export is for the person to read.
  const keys = await tenantKeys(db, tenantId);
  const stored = await db.recipient.findUniqueOrThrow({ where: { tenantId_id: { tenantId, id: recipientId } } });
  const recipient = { ...stored, ...openRecipient(keys, stored) };
  const [tenant, credentials, emails, events, requests, rectifications, history, guardians] = await Promise.all([
    db.tenant.findUniqueOrThrow({ where: { id: tenantId }, select: { id: true, name: true } }),
    db.credential.findMany({
      where: { tenantId, recipientId },
      orderBy: [{ issuedAt: "asc" }, { id: "asc" }],
      include: { documents: { orderBy: [{ supersededAt: "asc" }, { id: "asc" }] } },
    }),
    db.emailOutbox.findMany({ where: { tenantId, recipientId }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] }),
    db.engagementEvent.findMany({ where: { tenantId, recipientId }, orderBy: [{ occurredAt: "asc" }, { id: "asc" }] }),
    db.dataSubjectRequest.findMany({ where: { tenantId, recipientId }, orderBy: [{ receivedAt: "asc" }, { id: "asc" }] }),
    db.recipientRectification.findMany({ where: { tenantId, recipientId }, orderBy: [{ rectifiedAt: "asc" }, { id: "asc" }] }),
    db.privacyChoice.findMany({ where: { tenantId, recipientId }, orderBy: [{ madeAt: "asc" }, { id: "asc" }] }),
    db.guardianConsent.findMany({ where: { tenantId, recipientId }, orderBy: [{ requestedAt: "asc" }, { id: "asc" }] }),
  ]);
  const credentialIds = credentials.map((c) => c.id);
  const sealedDocs = credentialIds.length
    ? await db.$queryRaw<{ id: string; key_version: number | null; document_sealed: Uint8Array | null; legacy_document: unknown }[]>`
        select id, key_version, document_sealed, legacy_document from credentials where tenant_id = ${tenantId}::uuid and id = any(${credentialIds}::uuid[])`
    : [];
  const documentOf = (id: string) => {
    const row = sealedDocs.find((d) => d.id === id);
    return row ? openDocument(keys, "credentials", { id, keyVersion: row.key_version, documentSealed: row.document_sealed, legacyDocument: row.legacy_document }) : null;
  };
  const openedEmails = emails.map((e) => ({ ...e, ...openListed(keys, e) }));
  const requestIds = requests.map((r) => r.id);
  // Audit entries about them: their recipient row, their credentials, their requests.
  const audit = await db.auditLog.findMany({
    where: {
      tenantId,
      OR: [
        { targetType: "Recipient", targetId: recipientId },
        { targetType: "Credential", targetId: { in: credentialIds } },
        { targetType: "DataSubjectRequest", targetId: { in: requestIds } },
      ],
    },
    orderBy: [{ at: "asc" }, { id: "asc" }],
  });
  const auditOf = (type: string, id: string) => audit.filter((a) => a.targetType === type && a.targetId === id);

  return {
    formatVersion: EXPORT_FORMAT_VERSION,
    generatedAt: now.toISOString(),
    controller: { tenantId: tenant.id, name: tenant.name },
    recipient: {
      id: recipient.id,
      email: recipient.email,
      name: recipient.name,
      externalId: recipient.externalId,
      locale: recipient.locale,
      attributes: recipient.attributes as Record<string, unknown>,
      createdAt: iso(recipient.createdAt)!,
      updatedAt: iso(recipient.updatedAt)!,
      erasedAt: iso(recipient.erasedAt),
    },
    privacyChoices: {
      trackingConsent: recipient.trackingConsent,
      restrictedAt: iso(recipient.restrictedAt),
      objectedAt: iso(recipient.objectedAt),
      // When a choice was last changed: the recipient row's audit trail (below) records each change.
      recordedAt: iso(recipient.updatedAt)!,
      isChild: recipient.isChild,
      birthDate: recipient.birthDate ? recipient.birthDate.toISOString().slice(0, 10) : null,
      guardianConsentAt: iso(recipient.guardianConsentAt),
      // Each choice with its time, how it came (staff, the person's request, a guardian) and the request.
      history: history.map((c) => ({ choice: c.choice, value: c.value, madeAt: iso(c.madeAt)!, source: c.source, requestId: c.requestId })),
      // A guardian's consents (GDPR Art. 8): who was asked, the exact wording shown, and when it was given.
      guardianConsents: guardians.map((g) => ({
        ...openGuardian(keys, g), wording: g.wording, wordingVersion: g.wordingVersion, state: g.state,
        requestedAt: iso(g.requestedAt)!, givenAt: iso(g.givenAt), givenVia: g.givenVia, withdrawnAt: iso(g.withdrawnAt),
      })),
    },
    credentials: credentials.map((c) => ({
      id: c.id,
      url: urls.credential(publicUrl, tenantId, c.id),
      templateId: c.templateId,
      templateVersion: c.templateVersion,
      status: c.status,
      issuedAt: iso(c.issuedAt)!,
      validFrom: iso(c.validFrom)!,
      validUntil: iso(c.validUntil),
      fieldValues: c.fieldValues as Record<string, unknown>,
      evidence: c.evidence as unknown,
      document: documentOf(c.id),
      // Earlier documents, superseded when the holder's details were corrected (rectification.ts).
      documentHistory: c.documents.map((d) => ({
        document: openDocument(keys, "credential_documents", d) ?? {},
        statusListCredential: urls.statusList(publicUrl, tenantId, d.statusListId),
        statusListIndex: d.statusIndex,
        signedAt: iso(d.signedAt)!,
        supersededAt: iso(d.supersededAt)!,
        supersededReason: d.supersededReason,
        rectificationId: d.rectificationId,
      })),
      statusHistory: [
        { at: iso(c.issuedAt)!, status: "ACTIVE", reason: null as string | null },
        ...auditOf("Credential", c.id)
          .filter((a) => /^credential\.(revoked|suspended|reinstated|unsuspended|expired|reissued)$/.test(a.action))
          .map((a) => ({ at: iso(a.at)!, status: a.action.replace("credential.", "").toUpperCase(), reason: ((a.details as Record<string, unknown>)?.reason as string | undefined) ?? null })),
      ],
      revokedAt: iso(c.revokedAt),
      revocationReason: c.revocationReason,
      suspendedAt: iso(c.suspendedAt),
      claimedAt: iso(c.claimedAt),
      engagedAt: iso(c.engagedAt),
    })),
    emails: openedEmails.map((e) => ({
      id: e.id,
      kind: e.kind,
      credentialId: e.credentialId,
      to: e.toEmail,
      from: e.fromAddress,
      subject: e.subject,
      textBody: e.text,
      status: e.status,
      statusDetail: e.statusDetail,
      createdAt: iso(e.createdAt)!,
      sentAt: iso(e.sentAt),
      deliveredAt: iso(e.deliveredAt),
      bouncedAt: iso(e.bouncedAt),
      complainedAt: iso(e.complainedAt),
      openedAt: iso(e.openedAt),
      clickedAt: iso(e.clickedAt),
    })),
    engagementEvents: events.map((e) => ({
      id: e.id,
      occurredAt: iso(e.occurredAt)!,
      type: e.type,
      credentialId: e.credentialId,
      messageId: e.messageId,
      channel: e.channel,
      network: e.network,
      format: e.format,
      clientClass: e.uaClass,
      machine: e.machine,
    })),
    dataSubjectRequests: requests.map((r) => ({
      id: r.id,
      kind: r.kind,
      state: r.state,
      filedBy: r.filedBy,
      identityMethod: r.identityMethod,
      receivedAt: iso(r.receivedAt)!,
      deadlineAt: iso(r.deadlineAt)!,
      completedAt: iso(r.completedAt),
      outcome: r.outcome,
      requestedChanges: openRequestedChanges<{ name?: string; email?: string }>(keys, r),
      extension: r.extendedAt ? { extendedAt: iso(r.extendedAt)!, reason: r.extensionReason ?? "", originalDeadlineAt: iso(r.originalDeadlineAt)! } : null,
    })),
    rectifications: rectifications.map((r) => ({
      id: r.id,
      rectifiedAt: iso(r.rectifiedAt)!,
      changed: r.changed,
      ...openRectification(keys, r),
      actorKind: r.actorKind,
      requestId: r.requestId,
      credentialsReissued: r.credentialsReissued,
    })),
    auditEntries: audit.map((a) => ({
      id: a.id,
      at: iso(a.at)!,
      action: a.action,
      actorKind: a.actorKind,
      targetType: a.targetType,
      targetId: a.targetId,
      details: a.details as unknown,
    })),
  };
}

export type PersonData = Awaited<ReturnType<typeof collectPersonData>>;

const cell = (v: unknown): string => (v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v));

function table<T extends Record<string, unknown>>(rows: T[], columns: (keyof T & string)[]): string {
  return resultCsv([columns, ...rows.map((r) => columns.map((c) => cell(r[c])))]);
}

/**
 * A UTF-8 byte-order mark: Excel on Windows opens a CSV without one in the ANSI code page, turning
 * every non-Latin name into mojibake; with it, Excel, LibreOffice and csv parsers (csv-parse `bom: true`,
 * Python's utf-8-sig) read UTF-8. RFC 4180 does not forbid it.
 */
const BOM = "\uFEFF";

/**
 * One CSV per section, keyed by its path in the ZIP: RFC 4180 text, UTF-8 starting with a byte-order
 * mark (U+FEFF), a header row, nested values (attributes, documents, details) as JSON in their cell.
 */
export function personCsvFiles(data: PersonData): Record<string, string> {
  return Object.fromEntries(Object.entries(personCsvTables(data)).map(([path, csv]) => [path, BOM + csv]));
}

function personCsvTables(data: PersonData): Record<string, string> {
  return {
    "csv/recipient.csv": table([{ ...data.recipient, ...data.privacyChoices }], [
      "id", "email", "name", "externalId", "locale", "attributes", "createdAt", "updatedAt", "erasedAt",
      "trackingConsent", "restrictedAt", "objectedAt", "recordedAt", "isChild", "birthDate", "guardianConsentAt",
    ]),
    "csv/credentials.csv": table(data.credentials, [
      "id", "url", "templateId", "templateVersion", "status", "issuedAt", "validFrom", "validUntil", "fieldValues",
      "evidence", "revokedAt", "revocationReason", "suspendedAt", "claimedAt", "engagedAt", "document",
    ]),
    "csv/credential-status-history.csv": table(
      data.credentials.flatMap((c) => c.statusHistory.map((h) => ({ credentialId: c.id, ...h }))),
      ["credentialId", "at", "status", "reason"],
    ),
    "csv/emails.csv": table(data.emails, [
      "id", "kind", "credentialId", "to", "from", "subject", "status", "statusDetail", "createdAt", "sentAt",
      "deliveredAt", "bouncedAt", "complainedAt", "openedAt", "clickedAt", "textBody",
    ]),
    "csv/engagement-events.csv": table(data.engagementEvents, [
      "id", "occurredAt", "type", "credentialId", "messageId", "channel", "network", "format", "clientClass", "machine",
    ]),
    "csv/data-subject-requests.csv": table(data.dataSubjectRequests, [
      "id", "kind", "state", "filedBy", "identityMethod", "receivedAt", "deadlineAt", "completedAt", "outcome", "requestedChanges", "extension",
    ]),
    "csv/credential-documents.csv": table(
      data.credentials.flatMap((c) => c.documentHistory.map((d) => ({ credentialId: c.id, ...d }))),
      ["credentialId", "signedAt", "supersededAt", "supersededReason", "statusListCredential", "statusListIndex", "rectificationId", "document"],
    ),
    "csv/rectifications.csv": table(data.rectifications, [
      "id", "rectifiedAt", "changed", "oldName", "newName", "oldEmail", "newEmail", "actorKind", "requestId", "credentialsReissued",
    ]),
    "csv/privacy-history.csv": table(data.privacyChoices.history, ["choice", "value", "madeAt", "source", "requestId"]),
    "csv/guardian-consents.csv": table(data.privacyChoices.guardianConsents, [
      "guardianEmail", "guardianName", "state", "wordingVersion", "requestedAt", "givenAt", "givenVia", "withdrawnAt", "wording",
    ]),
    "csv/audit-entries.csv": table(data.auditEntries, ["id", "at", "action", "actorKind", "targetType", "targetId", "details"]),
  };
}

export const EXPORT_README = `Your data held by this organisation in Laurel (GDPR Art. 15 access, Art. 20 portability)
Format version: ${EXPORT_FORMAT_VERSION}

Files
  person.json            Everything below in one JSON document (its schema: person-export.schema.json,
                         JSON Schema draft 2020-12, in this ZIP). Times are ISO 8601 in UTC.
  person-export.schema.json  What each field of person.json may hold, for programs that read it.
  csv/*.csv              The same, one file per section, in UTF-8 with a byte-order mark (so that
                         spreadsheets read non-Latin letters right) and a header row. Nested values are JSON
                         text in their cell. A cell that begins with = + - @ or a tab got a leading
                         apostrophe so that spreadsheets do not run it; remove one leading apostrophe.
  credentials/<id>.json  Each credential's signed document exactly as published at its URL.

Sections of person.json
  formatVersion          This format's version; generatedAt: when this export was made.
  controller             The organisation (tenant) holding the data: its id and name.
  recipient              Your record: email, name, externalId (the organisation's own reference),
                         locale, attributes (fields the organisation stored about you), when created,
                         last changed, and erased (if so).
  privacyChoices         trackingConsent (whether opens and clicks may be linked to you), restrictedAt
                         (processing restricted since), objectedAt (objection recorded since), isChild and
                         birthDate (under 13: a guardian's consent comes first), guardianConsentAt (the
                         consent in force since), history (each choice: what, value, when, source, the
                         request), guardianConsents (who was asked, the exact wording, state and times).
  credentials            Each credential issued to you: url, template, status (ACTIVE, REVOKED,
                         SUSPENDED, EXPIRED), dates, fieldValues (what was merged into it), evidence,
                         document (the signed Open Badges 3.0 credential, null once erased) and
                         statusHistory (each change of status, with its reason, REISSUED when
                         it was signed again after a correction) and documentHistory (each
                         earlier signed document, when it was signed and superseded, and why;
                         each is revoked in the status list since then).
  emails                 Each email sent to you: kind, subject, text, and its delivery status with the
                         times it was sent, delivered, bounced, complained about, opened, clicked.
  engagementEvents       Views, shares, downloads and verifications linked to you: when, what, through
                         which channel and network, and the class of software (no IP address is kept).
  dataSubjectRequests    Your requests about your data: kind, state, how identity was checked,
                         received, deadline, completed, outcome, and for a rectification the
                         corrected name and/or email asked for (requestedChanges); if the deadline
                         was extended (GDPR Art. 12(3)), when, why and the first deadline (extension).
  rectifications         Each correction of your name or email: before and after, when, by which
                         kind of actor, through which request, how many credentials were re-issued.
  auditEntries           The organisation's log entries about your record, credentials and requests:
                         what was done, when, by which kind of actor, with its details.
`;

/** Who, besides the organisation, receives data about people (GDPR Art. 15(1)(c)), as this deployment is set up. */
export interface ProcessingFacts {
  /** The email delivery service, when emails leave the machine. */
  emailProvider: string | null;
  /** Hosts of the partner systems the organisation sends events about credentials and people to. */
  partnerHosts: string[];
}

/**
 * The information GDPR Art. 15(1)(a)-(h) says comes with a copy of one's data, as far as Laurel knows it:
 * purposes, categories, recipients, retention, rights, complaint, source and automated decisions. The
 * organisation (the controller) remains the one to answer for its own purposes and periods.
 */
export function processingInformation(controller: string, facts: ProcessingFacts): string {
  const recipients = [
    "  - Anyone you give your credential's link to, and anyone who checks it: the credential page and the",
    "    signed document at that link show your name and the achievement (that is what makes it verifiable).",
    ...(facts.emailProvider ? [`  - ${facts.emailProvider}, which delivers the organisation's emails to you.`] : []),
    ...(facts.partnerHosts.length
      ? [`  - Partner systems the organisation connected, told when credentials are issued or change: ${facts.partnerHosts.join(", ")}.`]
      : []),
    "  - Laurel, which runs this service for the organisation (a processor, GDPR Art. 28).",
  ];
  return `
About this processing (GDPR Art. 15(1))
  Controller             ${controller}: it decides why and how your data is used, and answers for it.
  Purposes               Issuing you credentials (badges, certificates), delivering them by email,
                         letting anyone verify them, and, unless you object or withdrew consent,
                         counting how credentials are opened, viewed and shared.
  Categories             Your name and email address, the organisation's reference and fields it keeps
                         about you, your credentials and their status, the emails sent to you, and
                         engagement events (no IP address is kept).
  Recipients
${recipients.join("\n")}
  How long               Until the organisation erases your record, or you ask for erasure (carried out
                         within seven working days). The organisation may set shorter periods for usage data.
  Your rights            A copy (this file), correction, erasure, restriction, objection, withdrawing consent
                         and portability: use "Your data and your rights" on your credential's page or in its
                         email, or write to ${controller}.
  Complaints             You may lodge a complaint with a data protection supervisory authority, in
                         particular where you live or work (GDPR Art. 77).
  Source                 ${controller} gave your name and email address when it issued you a credential.
  Automated decisions    None: no decision about you is made by automated means alone (GDPR Art. 22).
`;
}

