// Which queue workers are alive, so that a dead one's jobs are released in seconds rather than after
// graphile-worker's four hours. Two signals, because each alone misleads:
//  - each worker holds a session advisory lock keyed by its id on a connection of its own; PostgreSQL
//    drops it the moment the process dies (SIGKILL, OOM), whatever its last heartbeat said;
//  - each worker beats in worker_heartbeats; a host that vanished without closing its connection
//    keeps its lock until TCP gives up, so a beat older than staleAfterMs also counts as dead.
// A worker whose lock is gone is judged only once its beat is two intervals old (it may be
// reconnecting after a database restart), and nobody judges others until its own beats have run
// through such a window since its last failure: right after an outage, every beat is old.
import pg from "pg";

/** First half of the advisory lock key: "laurel queue worker alive" (second half: hashtext(worker id)). */
const LIVENESS_LOCK = 7420;

export interface LivenessOptions {
  adminUrl: string;
  heartbeatMs: number;
  staleAfterMs: number;
  /** graphile-worker's pool, acting as the owner role (worker_heartbeats and the queue tables). */
  pool: pg.Pool;
  log: (line: string) => void;
}

export interface Liveness {
  /** Holds the lock and beats for this id from now on (a replacement runner's id after a restart). */
  adopt(workerId: string): void;
  /** Ids of this process whose runner is gone: their jobs are released at the next beat. */
  abandon(workerId: string): void;
  beat(): Promise<void>;
  stop(): Promise<void>;
}

export function createLiveness(options: LivenessOptions): Liveness {
  const { pool, heartbeatMs, staleAfterMs } = options;
  const graceMs = 2 * heartbeatMs;
  let current = "";
  let lockClient: pg.Client | null = null;
  let lockedId = "";
  const abandoned = new Set<string>();
  let healthySince = 0;

  async function holdLock(): Promise<void> {
    if (lockClient && lockedId === current) return;
    if (!lockClient) {
      const client = new pg.Client({ connectionString: options.adminUrl, application_name: "laurel-worker-liveness" });
      client.on("error", () => {
        // The server went away: the lock went with it; take it again on a new connection next beat.
        if (lockClient === client) lockClient = null;
        client.end().catch(() => {});
      });
      await client.connect();
      lockClient = client;
      lockedId = "";
    }
    if (lockedId) await lockClient.query("select pg_advisory_unlock($1, hashtext($2))", [LIVENESS_LOCK, lockedId]);
    await lockClient.query("select pg_advisory_lock($1, hashtext($2))", [LIVENESS_LOCK, current]);
    lockedId = current;
  }

  async function beat(): Promise<void> {
    try {
      if (!current) return;
      await holdLock();
      await pool.query(`insert into worker_heartbeats (worker_id) values ($1) on conflict (worker_id) do update set beat_at = now()`, [current]);
      if (abandoned.size) {
        await pool.query("select graphile_worker.force_unlock_workers($1::text[])", [[...abandoned]]);
        await pool.query("delete from worker_heartbeats where worker_id = any($1::text[])", [[...abandoned]]);
        options.log(`released the jobs of this process's stopped runner ${[...abandoned].join(", ")}`);
        abandoned.clear();
      }
      if (Date.now() - healthySince < graceMs) return;
      const { rows } = await pool.query<{ released: string[] }>(
        `with dead as (
           select distinct j.locked_by from graphile_worker._private_jobs j
             left join worker_heartbeats h on h.worker_id = j.locked_by
            where j.locked_by is not null and j.locked_by <> $1 and j.locked_at < now() - $2::interval
              and (coalesce(h.beat_at, '-infinity') < now() - $3::interval
                   or (coalesce(h.beat_at, '-infinity') < now() - $2::interval
                       and not exists (select 1 from pg_locks l
                                        where l.locktype = 'advisory' and l.granted and l.objsubid = 2
                                          and l.database = (select oid from pg_database where datname = current_database())
                                          and l.classid = $4 and l.objid = hashtext(j.locked_by)::oid)))
         ), released as (select graphile_worker.force_unlock_workers(array(select locked_by from dead)))
         select array(select locked_by from dead) as released from released`,
        [current, `${graceMs} milliseconds`, `${staleAfterMs} milliseconds`, LIVENESS_LOCK],
      );
      await pool.query(`delete from worker_heartbeats where beat_at < now() - $1::interval`, [`${staleAfterMs} milliseconds`]);
      const released = rows[0]?.released ?? [];
      if (released.length) options.log(`released the jobs of stopped workers: ${released.join(", ")}`);
    } catch (error) {
      healthySince = Date.now();
      throw error;
    }
  }

  return {
    adopt(workerId) {
      current = workerId;
    },
    abandon(workerId) {
      if (workerId) abandoned.add(workerId);
    },
    beat,
    async stop() {
      if (current) await pool.query(`delete from worker_heartbeats where worker_id = $1`, [current]).catch(() => {});
      await lockClient?.end().catch(() => {});
      lockClient = null;
    },
  };
}
