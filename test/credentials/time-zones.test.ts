// Calendar dates in the issuing tenant's time zone: on the credential's page, its certificate, its
// emails and its LinkedIn add-to-profile link; a date-only valid_until lasts to the end of that day
// there. Half-hour zones and days with a DST change included.
import { openedCredentials } from "../helpers/sealed.js";
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ActivateTemplateDocument,
  BulkJobDocument,
  CreateBulkIssuanceDocument,
  CreateTemplateDocument,
  EmailMessagesDocument,
  IssueCredentialDocument,
  SetEmailTemplateDocument,
  UpdateTenantDocument,
  type BulkRowInput,
  type TemplateContentInput,
} from "../../src/sdk/generated.js";
import { statusLabel } from "../../src/public/credential-page.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, type TestTenant } from "../helpers/factories.js";
import { waitFor } from "../helpers/worker.js";

let app: TestApp;

interface ZonedTenant extends TestTenant {
  templateId: string;
}

async function zonedTenant(name: string, timeZone: string, content: Partial<TemplateContentInput> = {}): Promise<ZonedTenant> {
  const t = await signUpTenant(app, name);
  const { updateTenant } = await t.owner.request(UpdateTenantDocument, { input: { timeZone } });
  expect(updateTenant).toMatchObject({ timeZone });
  const { createTemplate } = await t.owner.request(CreateTemplateDocument, {
    kind: "CERTIFICATE",
    content: { name: "Zoned Certificate", description: "Dated in our zone.", criteriaNarrative: "Attend.", ...content },
  });
  if (createTemplate.__typename !== "Template") throw new Error(JSON.stringify(createTemplate));
  await t.owner.request(ActivateTemplateDocument, { id: createTemplate.id });
  return { ...t, templateId: createTemplate.id };
}

async function issueAt(t: ZonedTenant, issuedAt: string, validUntil?: string) {
  const { issueCredential } = await t.owner.request(IssueCredentialDocument, {
    input: { templateId: t.templateId, recipient: { email: `z-${Math.random().toString(36).slice(2, 10)}@example.test`, name: "Zoe Zone" }, issuedAt, validUntil },
  });
  if (issueCredential.__typename !== "Credential") throw new Error(JSON.stringify(issueCredential));
  return issueCredential;
}

/** Issues rows in bulk and returns each row's stored validFrom / validUntil, by email. */
async function bulkIssue(t: ZonedTenant, rows: BulkRowInput[]) {
  const { createBulkIssuance } = await t.owner.request(CreateBulkIssuanceDocument, { input: { templateId: t.templateId, rows } });
  if (createBulkIssuance.__typename !== "BulkJob") throw new Error(JSON.stringify(createBulkIssuance));
  const done = await waitFor(async () => {
    const { node } = await t.owner.request(BulkJobDocument, { id: createBulkIssuance.id });
    return node && "status" in node && node.status === "COMPLETED" && node;
  }, "the bulk job", 60_000);
  expect(done.failedCount).toBe(0);
  const stored = (await openedCredentials(app, t.tenantId)) as { email: string; id: string; valid_from: Date; valid_until: Date | null }[];
  return new Map(stored.map((s) => [s.email, s]));
}

const local = (path: string) => `${app.server.url}${new URL(path).pathname}`;
const pageOf = async (publicUrl: string) => (await fetch(local(publicUrl), { headers: { accept: "text/html" } })).text();
const datesLine = (html: string) => /data-testid="dates">(.*?)<\/p>/.exec(html)![1]!.replace(/<[^>]+>/g, "");

async function linkedIn(publicUrl: string) {
  const response = await fetch(`${local(publicUrl)}/share/linkedin-add`, { redirect: "manual" });
  const target = new URL(response.headers.get("location")!);
  return Object.fromEntries(["issueYear", "issueMonth", "expirationYear", "expirationMonth"].map((k) => [k, target.searchParams.get(k)]));
}

function pdfText(pdf: Buffer): string {
  return execFileSync("pdftotext", ["-layout", "-", "-"], { input: pdf }).toString("utf8");
}

beforeAll(async () => {
  app = await startTestApp({}, { worker: {} });
});
afterAll(async () => app.close());

describe("a credential issued at 2026-01-01T09:30:00+10:00", () => {
  it("is 1 January 2026 for a tenant in Australia/Sydney: page, certificate and LinkedIn (2026/1)", async () => {
    const sydney = await zonedTenant("Sydney Institute", "Australia/Sydney");
    const credential = await issueAt(sydney, "2026-01-01T09:30:00+10:00", "2027-01-01T09:30:00+10:00");
    const html = await pageOf(credential.publicUrl);
    expect(datesLine(html)).toBe("Issued 1 January 2026 · Expires 1 January 2027");
    expect(html).toContain('<time datetime="2026-01-01">');
    expect(await linkedIn(credential.publicUrl)).toEqual({ issueYear: "2026", issueMonth: "1", expirationYear: "2027", expirationMonth: "1" });
    const pdf = Buffer.from(await (await fetch(`${local(credential.publicUrl)}/certificate.pdf`)).arrayBuffer());
    const text = pdfText(pdf);
    expect(text).toContain("1 January 2026");
    expect(text).not.toContain("2025");
  });

  it("is 31 December 2025 for a tenant in UTC, the instant being the same", async () => {
    const utc = await zonedTenant("Greenwich College", "UTC");
    const credential = await issueAt(utc, "2026-01-01T09:30:00+10:00");
    expect(datesLine(await pageOf(credential.publicUrl))).toBe("Issued 31 December 2025 · Does not expire");
    expect(await linkedIn(credential.publicUrl)).toMatchObject({ issueYear: "2025", issueMonth: "12", expirationYear: null });
  });
});

describe("a date-only valid_until", () => {
  it("lasts to the end of that day in America/New_York, on the page, in LinkedIn and in the email", async () => {
    const newYork = await zonedTenant("Empire State College", "America/New_York");
    for (const [locale, words] of [["en", "Valid until"], ["fr", "Valable jusqu'au"]] as const) {
      const { setEmailTemplate } = await newYork.owner.request(SetEmailTemplateDocument, {
        input: { kind: "credential_issued", locale, subject: "{{credential.name}}", html: `<p>${words} {{credential.validUntil}}</p>`, text: `${words} {{credential.validUntil}}. {{links.linkedin}}` },
      });
      expect(setEmailTemplate.__typename).toBe("EmailTemplate");
    }
    const stored = await bulkIssue(newYork, [
      { email: "june@ny.test", name: "June", issuedAt: "2026-01-15", validUntil: "2026-06-30" },
      { email: "french@ny.test", name: "Françoise", locale: "fr", issuedAt: "2026-01-15", validUntil: "2026-06-30" },
    ]);
    const june = stored.get("june@ny.test")!;
    expect(june.valid_from.toISOString()).toBe("2026-01-15T05:00:00.000Z"); // midnight in New York (EST)
    expect(june.valid_until!.toISOString()).toBe("2026-07-01T03:59:59.999Z"); // 23:59:59.999 EDT, not 00:00 UTC
    // Still valid on the evening of 30 June in the Americas, expired once that day has ended there.
    expect(statusLabel({ status: "ACTIVE", validFrom: june.valid_from, validUntil: june.valid_until }, new Date("2026-07-01T03:00:00Z")).text).toBe("Valid");
    expect(statusLabel({ status: "ACTIVE", validFrom: june.valid_from, validUntil: june.valid_until }, new Date("2026-07-01T04:00:00Z")).text).toBe("Expired");

    const publicUrl = `${app.config.publicUrl}/issuers/${newYork.tenantId}/credentials/${june.id}`;
    expect(datesLine(await pageOf(publicUrl))).toBe("Issued 15 January 2026 · Expires 30 June 2026");
    expect(await linkedIn(publicUrl)).toEqual({ issueYear: "2026", issueMonth: "1", expirationYear: "2026", expirationMonth: "6" });

    const texts = await waitFor(async () => {
      const { tenant } = await newYork.owner.request(EmailMessagesDocument, { first: 10 });
      const sent = tenant!.emailMessages!.edges.map((e) => e.node).filter((m) => m.text);
      return sent.length === 2 && new Map(sent.map((m) => [m.toEmail, m.text!]));
    }, "the two emails", 30_000);
    expect(texts.get("june@ny.test")).toMatch(/^Valid until 30 June 2026\. /);
    expect(texts.get("french@ny.test")).toMatch(/^Valable jusqu'au 30 juin 2026\. /);
    const link = new URL(decodeURIComponent(/[?&]u=([^&\s]+)/.exec(texts.get("june@ny.test")!)?.[1] ?? texts.get("june@ny.test")!.split(" ").pop()!));
    expect([link.searchParams.get("issueMonth"), link.searchParams.get("expirationYear"), link.searchParams.get("expirationMonth")]).toEqual(["1", "2026", "6"]);
  });

  it("ends at local midnight in half-hour zones, on days when the clocks change too", async () => {
    const adelaide = await zonedTenant("Adelaide Academy", "Australia/Adelaide");
    const stored = await bulkIssue(adelaide, [
      { email: "april@adl.test", issuedAt: "2026-01-01", validUntil: "2026-04-05" }, // DST ends: 03:00 ACDT → 02:00 ACST
      { email: "october@adl.test", issuedAt: "2026-01-01", validUntil: "2026-10-04" }, // DST starts: 02:00 ACST → 03:00 ACDT
    ]);
    expect(stored.get("april@adl.test")!.valid_from.toISOString()).toBe("2025-12-31T13:30:00.000Z"); // +10:30 in summer
    expect(stored.get("april@adl.test")!.valid_until!.toISOString()).toBe("2026-04-05T14:29:59.999Z"); // +09:30
    expect(stored.get("october@adl.test")!.valid_until!.toISOString()).toBe("2026-10-04T13:29:59.999Z"); // +10:30
    const april = `${app.config.publicUrl}/issuers/${adelaide.tenantId}/credentials/${stored.get("april@adl.test")!.id}`;
    expect(datesLine(await pageOf(april))).toBe("Issued 1 January 2026 · Expires 5 April 2026");

    const kolkata = await zonedTenant("Kolkata College", "Asia/Kolkata");
    const inIndia = await bulkIssue(kolkata, [{ email: "march@kol.test", issuedAt: "2026-03-01", validUntil: "2026-03-31" }]);
    expect(inIndia.get("march@kol.test")!.valid_from.toISOString()).toBe("2026-02-28T18:30:00.000Z");
    expect(inIndia.get("march@kol.test")!.valid_until!.toISOString()).toBe("2026-03-31T18:29:59.999Z");
    const march = `${app.config.publicUrl}/issuers/${kolkata.tenantId}/credentials/${inIndia.get("march@kol.test")!.id}`;
    expect(datesLine(await pageOf(march))).toBe("Issued 1 March 2026 · Expires 31 March 2026");
    expect(await linkedIn(march)).toEqual({ issueYear: "2026", issueMonth: "3", expirationYear: "2026", expirationMonth: "3" });
  });
});

describe("a validity of N days after issue", () => {
  it("counts calendar days in the tenant's zone, keeping the local time across a DST change", async () => {
    const newYork = await zonedTenant("Thirty Days College", "America/New_York", { validity: { kind: "DAYS_AFTER_ISSUE", days: 30 } });
    const single = await issueAt(newYork, "2026-03-01T12:00:00-05:00");
    expect(single.validUntil).toBe("2026-03-31T16:00:00.000Z"); // 12:00 EDT; 30 × 24 h would be 17:00Z
    const stored = await bulkIssue(newYork, [{ email: "noon@ny.test", issuedAt: "2026-03-01T12:00:00-05:00" }]);
    expect(stored.get("noon@ny.test")!.valid_until!.toISOString()).toBe("2026-03-31T16:00:00.000Z");
  });
});
