// Validates a credential against 1EdTech's published OB 3.0 AchievementCredential JSON schema
// (vendored byte for byte; see test/credentials/fixtures/SOURCES.md for its sha256 and origin).
import { readFileSync } from "node:fs";
import { Ajv2019 } from "ajv/dist/2019.js";
import addFormatsModule from "ajv-formats";

const addFormats = addFormatsModule as unknown as (ajv: Ajv2019) => void;
const schemaUrl = new URL("./ob_v3p0_achievementcredential_schema.json", import.meta.url);

let validate: ReturnType<Ajv2019["compile"]> | undefined;

export function checkAchievementCredentialSchema(credential: unknown): { valid: boolean; errors: string[] } {
  if (!validate) {
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    addFormats(ajv);
    validate = ajv.compile(JSON.parse(readFileSync(schemaUrl, "utf8")));
  }
  const valid = validate(credential) as boolean;
  return { valid, errors: valid ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}`) };
}
