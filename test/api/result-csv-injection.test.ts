// The bulk result CSV opens in a spreadsheet as text, never as formulas (issue 8 item 15; OWASP "CSV
// Injection"): a cell that would begin with =, +, -, @, a tab or a carriage return starts with an added
// apostrophe, as does one that already began with an apostrophe, so removing one leading apostrophe
// always gives the value back.
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActivateTemplateDocument, CreateBulkIssuanceDocument, CreateTemplateDocument } from "../../src/sdk/generated.js";
import { resultCsv } from "../../src/modules/bulk/download.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { signUpTenant, type TestTenant } from "../helpers/factories.js";

const FORMULAS = ['=HYPERLINK("http://evil.example","ok")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1,1)", "\t=1+1", "\r=1+1"];
const recover = (cell: string) => (cell.startsWith("'") ? cell.slice(1) : cell);

describe("resultCsv", () => {
  it("neutralises every cell that begins with a formula character, and only those", () => {
    const values = [...FORMULAS, "'quoted", "＝1+1", "plain@example.test", "row 3", ""];
    const [cells] = parse(resultCsv([values]), { relax_column_count: true }) as string[][];
    expect(cells!.map((c) => c[0] === "'")).toEqual([true, true, true, true, true, true, true, true, false, false, false]);
    expect(cells!.map(recover)).toEqual(values);
  });
});

describe("GET /bulk-jobs/:id/result.csv", () => {
  let app: TestApp;
  let t: TestTenant;
  beforeAll(async () => {
    app = await startTestApp();
    t = await signUpTenant(app, "Spreadsheet College");
  });
  afterAll(async () => app?.close());

  it("writes emails and problem texts that begin with each formula character as text, recoverably", async () => {
    const template = await t.owner.request(CreateTemplateDocument, { kind: "BADGE", content: { name: "Cells", description: "Cells.", criteriaNarrative: "Be one." } });
    if (template.createTemplate.__typename !== "Template") throw new Error(JSON.stringify(template));
    await t.owner.request(ActivateTemplateDocument, { id: template.createTemplate.id });
    const rows = [
      ...FORMULAS.map((email) => ({ email })),
      ...FORMULAS.map((field, i) => ({ email: `field-${i}@example.test`, fieldValues: { [field]: "x" } })),
    ];
    const created = await t.owner.request(CreateBulkIssuanceDocument, { input: { templateId: template.createTemplate.id, rows } });
    if (created.createBulkIssuance.__typename !== "BulkJob") throw new Error(JSON.stringify(created));
    const res = await fetch(created.createBulkIssuance.resultCsvUrl.replace(app.config.publicUrl, app.server.url), {
      headers: { authorization: `Bearer ${t.token}` },
    });
    const [header, ...lines] = parse(await res.text()) as string[][];
    expect(header).toEqual(["row", "email", "status", "credential_id", "credential_url", "problems"]);
    const emails = lines.slice(0, FORMULAS.length).map((l) => l[1]!);
    expect(emails.every((cell) => cell.startsWith("'"))).toBe(true);
    expect(emails.map(recover)).toEqual(FORMULAS);
    const problems = lines.slice(FORMULAS.length).map((l) => l[5]!);
    expect(problems.every((cell) => cell.startsWith("'"))).toBe(true);
    expect(problems.map(recover).map((p) => p.slice(0, p.indexOf(": Unknown field")))).toEqual(FORMULAS);
  });
});
