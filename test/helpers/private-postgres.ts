// A PostgreSQL cluster of a test's own, in a temporary directory (initdb + pg_ctl), for what must never
// touch the shared cluster: restarting the database under load, or roles a test must see unchanged
// while other test runs on the machine create and alter theirs. Trust authentication on 127.0.0.1.
import { execFile } from "node:child_process";
import { chown, mkdtemp, readdir, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface PrivatePostgres {
  port: number;
  /** A superuser URL for `database` (default postgres). */
  url(database?: string): string;
  /** pg_ctl stop -m <mode> (fast: disconnect clients; immediate: crash-like, recovery at next start). */
  stop(mode: "fast" | "immediate"): Promise<void>;
  start(): Promise<void>;
  restart(mode: "fast" | "immediate"): Promise<void>;
  destroy(): Promise<void>;
}

async function binDir(): Promise<string> {
  const root = "/usr/lib/postgresql";
  const versions = (await readdir(root)).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  if (!versions.length) throw new Error(`no PostgreSQL binaries under ${root}`);
  return path.join(root, versions[0]!, "bin");
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = await binDir();
  const dir = await mkdtemp(path.join(tmpdir(), "laurel-pg-"));
  const data = path.join(dir, "data");
  // initdb refuses to run as root: run the cluster as the postgres user then.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { stdout } = await run("id", ["-u", "postgres"]);
    const { stdout: gid } = await run("id", ["-g", "postgres"]);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const pg = (tool: string, args: string[]) =>
    asRoot ? run("runuser", ["-u", "postgres", "--", path.join(bin, tool), ...args]) : run(path.join(bin, tool), args);
  const port = await freePort();
  await pg("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`;
  const start = () => pg("pg_ctl", ["-D", data, "-l", path.join(dir, "log"), "-o", options, "-w", "-t", "60", "start"]).then(() => {});
  const stop = (mode: string) => pg("pg_ctl", ["-D", data, "-m", mode, "-w", "-t", "60", "stop"]).then(() => {});
  await start();
  return {
    port,
    url: (database = "postgres") => `postgres://postgres@127.0.0.1:${port}/${database}`,
    stop,
    start,
    restart: (mode) => pg("pg_ctl", ["-D", data, "-m", mode, "-l", path.join(dir, "log"), "-o", options, "-w", "-t", "60", "restart"]).then(() => {}),
    async destroy() {
      await stop("immediate").catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}
