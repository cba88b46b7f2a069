// `npm run restore -- <backup.pgdump.age> --into <admin URL of an empty database>`: checks the file
// against its manifest, decrypts it with LAUREL_BACKUP_IDENTITY, restores it, then migrates it to this
// Laurel's schema. Refuses, with nothing written, a database that is not empty.
import { loadConfig, StartupError } from "../../config.js";
import { failWith, operatorPath, parseArgs } from "./cli-args.js";
import { loadIdentities } from "./keys.js";
import { restoreBackup } from "./restore.js";

const usage = "npm run restore -- <file.pgdump.age> --into <postgres://admin@host/empty_database>";
const { positionals, options } = parseArgs(process.argv.slice(2), ["--into"], usage);
try {
  const into = options.get("--into");
  if (positionals.length !== 1 || !into) throw new StartupError(`usage: ${usage}`);
  const config = loadConfig();
  const identities = await loadIdentities(config.backup.identity, process.env.INIT_CWD ?? process.cwd());
  const result = await restoreBackup({
    file: operatorPath(positionals[0]!),
    intoUrl: into,
    identities,
    roles: config.roles,
    loginPassword: config.loginPassword,
    log: (l) => console.log(l),
  });
  const { manifest } = result;
  console.log(`Restored ${manifest.database} as taken at ${manifest.createdAt} (schema ${manifest.schemaVersion.name}) in ${result.elapsedMs} ms${result.applied.length ? `; then applied ${result.applied.join(", ")}` : ""}.`);
  console.log("Start Laurel with DATABASE_URL pointing at it and the same LAUREL_KEKS as the backed-up deployment.");
} catch (error) {
  failWith(error);
}
