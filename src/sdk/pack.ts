// `npm run sdk:pack`: builds the partner SDK (src/sdk) into an npm package, `@laurel/sdk`, and writes
// its tarball (laurel-sdk-<version>.tgz) into the current folder. A partner installs that file with
// `npm install ./laurel-sdk-<version>.tgz` (or from a private registry after `npm publish` of it):
// plain ES modules with type declarations, no runtime dependency beyond a fetch.
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = fileURLToPath(new URL("../..", import.meta.url));

/**
 * Compiles src/sdk/index.ts and generated.ts to ES2022 JavaScript with .d.ts files, adds a package.json
 * and README, and packs them. Returns the tarball's absolute path. Throws on a compile error.
 */
export async function packSdk(destination = process.cwd()): Promise<string> {
  const own = JSON.parse(await readFile(path.join(root, "package.json"), "utf8")) as { version: string; dependencies: Record<string, string> };
  const work = await mkdtemp(path.join(tmpdir(), "laurel-sdk-"));
  try {
    const program = ts.createProgram([path.join(root, "src/sdk/index.ts")], {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      declaration: true,
      strict: true,
      skipLibCheck: true,
      outDir: path.join(work, "dist"),
      rootDir: path.join(root, "src/sdk"),
      types: [],
      lib: ["lib.es2022.d.ts", "lib.dom.d.ts"],
    });
    const result = program.emit();
    const problems = [...ts.getPreEmitDiagnostics(program), ...result.diagnostics].filter((d) => d.category === ts.DiagnosticCategory.Error);
    if (problems.length) throw new Error(ts.formatDiagnostics(problems, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => "\n" }));
    const typedDocumentNode = "@graphql-typed-document-node/core";
    await writeFile(
      path.join(work, "package.json"),
      JSON.stringify(
        {
          name: "@laurel/sdk",
          version: own.version,
          description: "Typed client for Laurel's GraphQL API (generated from its schema)",
          type: "module",
          exports: { ".": { types: "./dist/index.d.ts", import: "./dist/index.js" } },
          types: "./dist/index.d.ts",
          files: ["dist", "README.md"],
          engines: { node: ">=18" },
          // Type-only: the generated documents are typed with it; nothing of it runs.
          dependencies: { [typedDocumentNode]: own.dependencies[typedDocumentNode] },
        },
        null,
        2,
      ) + "\n",
    );
    await writeFile(
      path.join(work, "README.md"),
      [
        "# @laurel/sdk",
        "",
        "Typed operations for Laurel's GraphQL API. Every operation is a typed document:",
        "",
        "```ts",
        'import { createLaurelClient, MembersDocument } from "@laurel/sdk";',
        'const laurel = createLaurelClient({ url: "https://laurel.example/graphql", token: process.env.LAUREL_API_KEY });',
        "const { tenant } = await laurel.request(MembersDocument, { first: 20 });",
        "```",
        "",
        "Expected failures come back as typed results (`__typename`); transport and authorization failures throw `LaurelRequestError` with `.code`.",
        "",
      ].join("\n"),
    );
    const output = execFileSync("npm", ["pack", "--pack-destination", destination, "--json"], { cwd: work, encoding: "utf8" });
    const [packed] = JSON.parse(output) as { filename: string }[];
    return path.resolve(destination, packed!.filename);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(await packSdk());
}
