// Signing on worker threads for bulk issuance: canonicalizing and signing is CPU work that would
// otherwise share one thread with the database round trips. Batches are split across the workers;
// where workers cannot start (no TypeScript loader in the thread, as under vitest), signing falls
// back to this thread, with the same result.
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { createDocumentLoader } from "./document-loader.js";
import { signCredential, type SigningKey } from "./proofs.js";

interface Pending {
  resolve: (signed: Record<string, unknown>[]) => void;
  reject: (error: Error) => void;
}

const loader = createDocumentLoader();

/** Starts sign-worker; from TypeScript sources (run by tsx) the thread loads it through tsx's API. */
function newWorker(): Worker {
  const here = import.meta.url;
  if (!here.endsWith(".ts")) return new Worker(new URL("./sign-worker.js", here));
  const target = new URL("./sign-worker.ts", here).href;
  return new Worker(`import("tsx/esm/api").then(({ tsImport }) => tsImport(${JSON.stringify(target)}, ${JSON.stringify(here)}));`, { eval: true });
}

/**
 * Threads to sign on. Measured on 2 cores, a signing thread made bulk issuance slower (1,011 vs 1,327
 * credentials/s): PostgreSQL and this thread already use both cores, and signing is no longer the
 * bottleneck. So the default leaves two cores to them; SIGN_THREADS overrides.
 */
export function defaultSignThreads(env: NodeJS.ProcessEnv = process.env): number {
  const configured = env.SIGN_THREADS;
  if (configured !== undefined && configured !== "") return Math.max(0, Number(configured) || 0);
  return Math.max(0, Math.min(4, availableParallelism() - 2));
}

export function createSignPool(size = defaultSignThreads()) {
  let workers: Worker[] | null = null;
  let broken = false;
  const pending = new Map<number, Pending>();
  let nextId = 0;

  function start(): Worker[] | null {
    if (workers || broken) return workers;
    try {
      workers = Array.from({ length: size }, () => {
        const worker = newWorker();
        worker.on("message", (m: { id: number; signed?: Record<string, unknown>[]; error?: string }) => {
          const p = pending.get(m.id);
          pending.delete(m.id);
          if (m.error || !m.signed) p?.reject(new Error(m.error ?? "signing failed"));
          else p?.resolve(m.signed);
        });
        worker.on("error", (error) => {
          broken = true;
          for (const p of pending.values()) p.reject(error);
          pending.clear();
        });
        worker.unref();
        return worker;
      });
    } catch {
      broken = true;
      workers = null;
    }
    return workers;
  }

  async function inThread(credentials: Record<string, unknown>[], key: SigningKey) {
    const signed = [];
    for (const c of credentials) signed.push(await signCredential(c, key, loader));
    return signed;
  }

  return {
    async signMany(credentials: Record<string, unknown>[], key: SigningKey): Promise<Record<string, unknown>[]> {
      const pool = size > 0 && credentials.length >= 8 ? start() : null;
      if (!pool || broken) return inThread(credentials, key);
      const per = Math.ceil(credentials.length / pool.length);
      try {
        const parts = await Promise.all(
          pool.map((worker, i) => {
            const slice = credentials.slice(i * per, (i + 1) * per);
            if (!slice.length) return Promise.resolve([]);
            const id = nextId++;
            return new Promise<Record<string, unknown>[]>((resolve, reject) => {
              pending.set(id, { resolve, reject });
              worker.postMessage({ id, credentials: slice, key });
            });
          }),
        );
        return parts.flat();
      } catch {
        broken = true;
        return inThread(credentials, key);
      }
    },
    /** Whether batches are being signed on worker threads (false: on this thread). */
    get threaded(): boolean {
      return Boolean(workers) && !broken;
    },
    async close() {
      await Promise.all((workers ?? []).map((w) => w.terminate()));
      workers = null;
    },
  };
}

export type SignPool = ReturnType<typeof createSignPool>;
