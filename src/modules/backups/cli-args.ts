// What the backup command lines share: paths relative to where the operator typed the command (npm
// runs scripts in the package folder), and one way to fail (a line, exit 1; a usage error, exit 2).
import path from "node:path";
import { StartupError } from "../../config.js";
import { BackupError } from "./format.js";

/** A path the operator typed, resolved against the folder they typed it in. */
export function operatorPath(p: string): string {
  return path.resolve(process.env.INIT_CWD ?? process.cwd(), p);
}

/** Splits argv into positionals and `--name value` options; exits 2 on an unknown option. */
export function parseArgs(argv: string[], known: string[], usage: string): { positionals: string[]; options: Map<string, string> } {
  const positionals: string[] = [];
  const options = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("-")) positionals.push(arg);
    else if (known.includes(arg) && argv[i + 1] !== undefined) options.set(arg, argv[++i]!);
    else {
      console.error(`unknown or incomplete option ${arg}\nusage: ${usage}`);
      process.exit(2);
    }
  }
  return { positionals, options };
}

/** Prints an expected failure as one line and exits 1; anything else is a bug and keeps its stack. */
export function failWith(error: unknown): never {
  if (error instanceof BackupError || error instanceof StartupError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
