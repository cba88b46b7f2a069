// Templates are OB 3.0 Achievements. Content lives in immutable versions: every edit writes a new
// version, and a credential keeps pointing at the version it was issued from.
import type { Db } from "../../db/tenant-transaction.js";
import type { TemplateKind, ValidityKind } from "../../generated/prisma/enums.js";
import { ExpectedError, NotFoundError, ValidationError, type FieldProblem } from "../../errors.js";
import { recordAudit } from "../audit/service.js";
import { isUuid, type Caller } from "../common/caller.js";
import { rangeProblem } from "../../lib/calendar.js";
import { personNameProblem } from "../../lib/text.js";
import { hasMergeTags, mergeTextProblems, RECIPIENT_NAME } from "./merge-fields.js";

export const CUSTOM_FIELD_TYPES = ["TEXT", "NUMBER", "DATE", "URL"] as const;
export type CustomFieldType = (typeof CUSTOM_FIELD_TYPES)[number];
export interface CustomField {
  name: string;
  label?: string | null;
  type: CustomFieldType;
  required: boolean;
}
export interface Alignment {
  targetName: string;
  targetUrl: string;
  targetDescription?: string | null;
  targetFramework?: string | null;
  targetCode?: string | null;
}

export interface TemplateContent {
  name: string;
  description: string;
  /** Per-recipient text with merge fields: becomes each credential's own description. */
  credentialDescription?: string | null;
  criteriaNarrative?: string | null;
  criteriaUrl?: string | null;
  imageUrl?: string | null;
  tags?: string[] | null;
  alignments?: Alignment[] | null;
  validity?: { kind: ValidityKind; days?: number | null; until?: Date | null } | null;
  customFields?: CustomField[] | null;
}

export class TemplateNotIssuableError extends ExpectedError {
  override name = "TemplateNotIssuableError";
  constructor(readonly status: string) {
    super(status === "ARCHIVED" ? "This template is archived: it no longer issues credentials" : "Activate this template before issuing from it");
  }
}

const URL_PATTERN = /^https?:\/\/\S+$/;
const SHARED_TEXT =
  "The achievement's texts are the same in every credential (and published at the Achievement URL), so they take no merge fields: put per-recipient text such as {{recipientName}} in credentialDescription";

/** The achievement texts of a version (saved before merge fields were refused there) that still hold some. */
export function sharedTextsWithMergeFields(v: { name: string; description: string; criteriaNarrative?: string | null; tags?: string[] | null; alignments?: unknown }): string[] {
  const alignments = (Array.isArray(v.alignments) ? v.alignments : []) as Alignment[];
  const texts: [string, string | null | undefined][] = [
    ["name", v.name],
    ["description", v.description],
    ["criteriaNarrative", v.criteriaNarrative],
    ...(v.tags ?? []).map((t, i): [string, string] => [`tags.${i}`, t]),
    ...alignments.flatMap((a, i): [string, string | null | undefined][] =>
      (["targetName", "targetDescription", "targetFramework", "targetCode"] as const).map((f) => [`alignments.${i}.${f}`, a[f]]),
    ),
  ];
  return texts.filter(([, text]) => hasMergeTags(text)).map(([field]) => field);
}
const FIELD_NAME = /^[a-zA-Z][a-zA-Z0-9_]{0,49}$/;

export function checkContent(input: TemplateContent, base: string[] = ["input"]) {
  const problems: FieldProblem[] = [];
  const bad = (field: string, message: string) => problems.push({ path: [...base, field], message });
  const name = input.name.trim();
  const description = input.description.trim();
  if (!name || name.length > 200) bad("name", "Name must have 1 to 200 characters");
  else if (personNameProblem(name)) bad("name", personNameProblem(name)!); // signed as the achievement's name
  if (!description || description.length > 5000) bad("description", "Description must have 1 to 5,000 characters");
  if (!input.criteriaNarrative?.trim() && !input.criteriaUrl) bad("criteriaNarrative", "Give criteria: a narrative, a URL, or both");
  if ((input.criteriaNarrative?.length ?? 0) > 10_000) bad("criteriaNarrative", "At most 10,000 characters");
  for (const f of ["criteriaUrl", "imageUrl"] as const) if (input[f] && !URL_PATTERN.test(input[f]!)) bad(f, "Must be an http(s) URL");
  const tags = [...new Set((input.tags ?? []).map((t) => t.trim()).filter(Boolean))];
  if (tags.length > 30 || tags.some((t) => t.length > 60)) bad("tags", "At most 30 tags of up to 60 characters");
  const alignments = input.alignments ?? [];
  if (alignments.length > 20) bad("alignments", "At most 20 alignments");
  alignments.forEach((a, i) => {
    if (!a.targetName.trim()) bad(`alignments.${i}.targetName`, "Required");
    if (!URL_PATTERN.test(a.targetUrl)) bad(`alignments.${i}.targetUrl`, "Must be an http(s) URL");
  });
  const validity = input.validity ?? { kind: "NONE" as const };
  if (validity.kind === "DAYS_AFTER_ISSUE" && !(validity.days && validity.days > 0 && validity.days <= 36_500)) bad("validity", "Give the number of days (1 to 36,500)");
  if (validity.kind === "FIXED_DATE" && !validity.until) bad("validity", "Give the date until which credentials are valid");
  const fields = input.customFields ?? [];
  const names = new Set<string>();
  if (fields.length > 20) bad("customFields", "At most 20 custom fields");
  fields.forEach((f, i) => {
    if (!FIELD_NAME.test(f.name)) bad(`customFields.${i}.name`, "Use letters, digits and _ (start with a letter, up to 50)");
    if (f.name === RECIPIENT_NAME) bad(`customFields.${i}.name`, `"${RECIPIENT_NAME}" is the recipient's name, always available: choose another name`);
    if (names.has(f.name)) bad(`customFields.${i}.name`, `Duplicate field "${f.name}"`);
    names.add(f.name);
  });
  for (const field of sharedTextsWithMergeFields({ ...input, tags, alignments })) bad(field, SHARED_TEXT);
  const credentialDescription = input.credentialDescription?.trim() || null;
  if ((credentialDescription?.length ?? 0) > 5000) bad("credentialDescription", "At most 5,000 characters");
  for (const message of credentialDescription ? mergeTextProblems(credentialDescription, [...names]) : []) bad("credentialDescription", message);
  if (validity.kind === "FIXED_DATE" && validity.until && rangeProblem(validity.until)) bad("validity", rangeProblem(validity.until)!);
  if (problems.length) throw new ValidationError(problems[0]!.message, problems);
  return {
    name,
    description,
    credentialDescription,
    criteriaNarrative: input.criteriaNarrative?.trim() || null,
    criteriaUrl: input.criteriaUrl ?? null,
    imageUrl: input.imageUrl ?? null,
    tags,
    alignments: alignments as unknown as object,
    validity: validity.kind,
    validityDays: validity.kind === "DAYS_AFTER_ISSUE" ? validity.days! : null,
    validUntil: validity.kind === "FIXED_DATE" ? validity.until! : null,
    customFields: fields.map((f) => ({ name: f.name, label: f.label ?? null, type: f.type, required: f.required })) as unknown as object,
  };
}

/**
 * Refuses to issue from a version whose shared texts hold merge fields (saved before they were refused
 * there): they would be published unrendered in every credential. ValidationError on input.templateId.
 */
export function checkSharedTexts(version: Parameters<typeof sharedTextsWithMergeFields>[0]): void {
  const fields = sharedTextsWithMergeFields(version);
  if (fields.length) {
    throw ValidationError.field(
      ["input", "templateId"],
      `This template's ${fields.join(", ")} hold merge fields, which every credential would show unrendered: update the template, moving per-recipient text to credentialDescription`,
    );
  }
}

export async function createTemplate(db: Db, caller: Caller, kind: TemplateKind, content: TemplateContent) {
  const data = checkContent(content);
  const template = await db.template.create({ data: { tenantId: caller.tenantId, kind } });
  await db.templateVersion.create({ data: { tenantId: caller.tenantId, templateId: template.id, version: 1, ...data } });
  await recordAudit(db, caller, { action: "template.created", targetType: "Template", targetId: template.id, details: { kind, name: data.name } });
  return template;
}

export async function findTemplate(db: Db, caller: Caller, id: string, lock = false) {
  if (!isUuid(id)) throw new NotFoundError("Template");
  if (lock) await db.$queryRaw`select 1 from templates where tenant_id = ${caller.tenantId}::uuid and id = ${id}::uuid for update`;
  const template = await db.template.findUnique({ where: { tenantId_id: { tenantId: caller.tenantId, id } } });
  if (!template) throw new NotFoundError("Template");
  return template;
}

export async function updateTemplate(db: Db, caller: Caller, id: string, content: TemplateContent) {
  const template = await findTemplate(db, caller, id, true);
  if (template.status === "ARCHIVED") throw new TemplateNotIssuableError("ARCHIVED");
  const data = checkContent(content);
  const version = template.currentVersion + 1;
  await db.templateVersion.create({ data: { tenantId: caller.tenantId, templateId: id, version, ...data } });
  const updated = await db.template.update({ where: { tenantId_id: { tenantId: caller.tenantId, id } }, data: { currentVersion: version } });
  await recordAudit(db, caller, { action: "template.updated", targetType: "Template", targetId: id, details: { version, name: data.name } });
  return updated;
}

export async function setTemplateStatus(db: Db, caller: Caller, id: string, status: "ACTIVE" | "ARCHIVED") {
  const template = await findTemplate(db, caller, id, true);
  if (template.status === status) return template;
  if (template.status === "ARCHIVED") throw new TemplateNotIssuableError("ARCHIVED");
  const updated = await db.template.update({ where: { tenantId_id: { tenantId: caller.tenantId, id } }, data: { status } });
  await recordAudit(db, caller, { action: status === "ACTIVE" ? "template.activated" : "template.archived", targetType: "Template", targetId: id });
  return updated;
}
