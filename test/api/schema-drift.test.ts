// The committed contract files are exactly what the code produces: schema/schema.graphql from the
// Pothos schema, src/sdk/generated.ts from schema/ by codegen.ts.
import { readFile } from "node:fs/promises";
import { generate } from "@graphql-codegen/cli";
import { describe, expect, it } from "vitest";
import { printedSchema } from "../../src/schema.js";
import codegenConfig from "../../codegen.js";

const root = new URL("../../", import.meta.url);

describe("committed contract files", () => {
  it("schema/schema.graphql is the schema the code builds (run `npm run schema:print`)", async () => {
    const committed = await readFile(new URL("schema/schema.graphql", root), "utf8");
    expect(committed).toBe(printedSchema());
  });

  it("src/sdk/generated.ts is what codegen makes of schema/ (run `npm run codegen`)", async () => {
    const outputs = await generate({ ...codegenConfig, cwd: new URL(".", root).pathname, silent: true }, false);
    const sdk = outputs.find((o: { filename: string }) => o.filename.endsWith("src/sdk/generated.ts"));
    expect(sdk).toBeDefined();
    const committed = await readFile(new URL("src/sdk/generated.ts", root), "utf8");
    expect(committed).toBe(sdk!.content);
  }, 60_000);
});
