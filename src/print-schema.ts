// `npm run schema:print`: writes schema/schema.graphql from the code.
import { writeFile } from "node:fs/promises";
import { printedSchema } from "./schema.js";

await writeFile(new URL("../schema/schema.graphql", import.meta.url), printedSchema());
console.log("wrote schema/schema.graphql");
