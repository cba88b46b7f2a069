// `npm run backup:keygen [-- -o <identity file>]`: a new age X25519 key pair for backups. With -o the
// secret key goes to a new file (mode 0600; an existing file is never overwritten) and the public key
// is printed; without, the identity file's text is printed (its comment names the public key), as age-keygen does. Give servers only the public key.
import { writeFile } from "node:fs/promises";
import { StartupError } from "../../config.js";
import { failWith, operatorPath, parseArgs } from "./cli-args.js";
import { generateKeyPair, identityFileText } from "./keys.js";

const usage = "npm run backup:keygen [-- -o <identity file>]";
const { positionals, options } = parseArgs(process.argv.slice(2), ["-o"], usage);
try {
  if (positionals.length) throw new StartupError(`usage: ${usage}`);
  const pair = await generateKeyPair();
  const out = options.get("-o");
  if (!out) {
    process.stdout.write(identityFileText(pair));
  } else {
    await writeFile(operatorPath(out), identityFileText(pair), { mode: 0o600, flag: "wx" }).catch((error: NodeJS.ErrnoException) => {
      throw new StartupError(error.code === "EEXIST" ? `${out} already exists: choose another name (a secret key is never overwritten)` : `cannot write ${out}: ${error.message}`);
    });
    console.log(`Secret key written to ${out} (keep it off the database server; a restore needs it).`);
    console.log(`Public key: ${pair.recipient}`);
  }
} catch (error) {
  failWith(error);
}
