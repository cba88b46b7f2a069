// `npm run backup [-- --out <folder>]`: one encrypted backup of DATABASE_URL (the admin connection) for
// LAUREL_BACKUP_RECIPIENTS, into --out, else LAUREL_BACKUP_DIR, else the current folder. Prints the two
// files it wrote. Removes no older backup (the worker's daily backup keeps the last LAUREL_BACKUP_KEEP).
import { loadConfig, StartupError } from "../../config.js";
import { takeBackup } from "./backup.js";
import { failWith, operatorPath, parseArgs } from "./cli-args.js";

const usage = "npm run backup [-- --out <folder>]";
const { positionals, options } = parseArgs(process.argv.slice(2), ["--out"], usage);
try {
  if (positionals.length) throw new StartupError(`usage: ${usage}`);
  const config = loadConfig();
  if (!config.databaseUrl) throw new StartupError("DATABASE_URL (the admin connection) is required: the embedded demo's database is its folder, LAUREL_DATA_DIR; copy it while Laurel is stopped");
  const dir = options.has("--out") ? operatorPath(options.get("--out")!) : (config.backup.dir ?? operatorPath("."));
  const result = await takeBackup({ adminUrl: config.databaseUrl, roles: config.roles, recipients: config.backup.recipients, dir, log: (l) => console.log(l) });
  console.log(result.backupPath);
  console.log(result.manifestPath);
} catch (error) {
  failWith(error);
}
