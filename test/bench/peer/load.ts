// One measured run: `concurrency` keep-alive connections, each sending its next request as soon as the
// previous answer arrives, for a bounded time. Records latency, answers that were not right, and the
// CPU the server process and its PostgreSQL backends spent meanwhile.
import http from "node:http";
import type postgres from "postgres";
import { backendCpu, backendCpuUsed, machineBusySeconds, processCpuSeconds, type RunningServer } from "./servers.js";
import { send, type Side } from "./workloads.js";

export interface Measured {
  requests: number;
  /** Non-200, GraphQL errors, or a body other than the verified one. */
  errors: number;
  firstError?: string;
  rps: number;
  p50: number;
  p99: number;
  /** Server process CPU (all threads) per request, ms. */
  cpuMs: number;
  /** PostgreSQL backend CPU per request, ms. */
  pgCpuMs: number;
  /** The load generator's own CPU per request, ms (it shares the machine). */
  clientCpuMs: number;
  /** Cores kept busy by everything else on the machine meanwhile (other servers, other people's work). */
  otherCores: number;
}

export interface LoadOptions {
  concurrency: number;
  seconds: number;
  maxRequests?: number;
  /** The request counter to start from (issuance needs a new recipient each time). */
  offset?: number;
}

export async function measure(server: RunningServer, side: Side, admin: postgres.Sql, database: string, options: LoadOptions): Promise<Measured> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency });
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let next = options.offset ?? 0;
  const maxRequests = options.maxRequests ?? 2_000_000;
  const pgBefore = await backendCpu(admin, database, server.application);
  const cpuBefore = processCpuSeconds(server.child.pid!);
  const clientBefore = process.cpuUsage();
  const machineBefore = machineBusySeconds();
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (performance.now() < deadline && latencies.length + errors < maxRequests) {
        const i = next++;
        const t0 = performance.now();
        try {
          const answer = await send(agent, side, i);
          latencies.push(performance.now() - t0);
          if (answer.status !== 200 || !side.check(i, answer.body)) {
            errors++;
            firstError ??= `HTTP ${answer.status}: ${answer.body.toString().slice(0, 300)}`;
          }
        } catch (error) {
          latencies.push(performance.now() - t0);
          errors++;
          firstError ??= String(error);
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const cpu = processCpuSeconds(server.child.pid!) - cpuBefore;
  const client = process.cpuUsage(clientBefore);
  const machine = machineBusySeconds() - machineBefore;
  const pg = backendCpuUsed(pgBefore, await backendCpu(admin, database, server.application));
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
  const n = latencies.length;
  return {
    requests: n,
    errors,
    firstError,
    rps: n / elapsed,
    p50: pct(50),
    p99: pct(99),
    cpuMs: (cpu * 1000) / n,
    pgCpuMs: (pg * 1000) / n,
    clientCpuMs: (client.user + client.system) / 1000 / n,
    otherCores: Math.max(0, machine - cpu - pg - (client.user + client.system) / 1e6) / elapsed,
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
