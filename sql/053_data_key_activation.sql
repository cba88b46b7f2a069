-- A new data key seals nothing until every process has had time to load it. Each process caches a
-- tenant's unwrapped keys for up to a minute (vault.ts KEY_CACHE_MS); a key added by a rotation in one
-- process was, until now, used to seal at once by that process, so another process whose cache
-- predated it met values it could not open (found by QA: the worker's email job failed with "Data key
-- version 3 ... is not loaded" right after a rotation began elsewhere). Now the key is stored with the
-- instant it may begin to seal, after every cache that lacks it has expired; until then every process
-- loads it (and opens with it) but seals under the previous one, and the rotation's re-seal waits too.
-- Existing keys are active already.
alter table tenant_data_keys add column activates_at timestamptz not null default now();
comment on column tenant_data_keys.activates_at is
  'From this instant (database time) the key seals new values; before it, processes load it to open values only. Rotation sets it one key-cache lifetime and a commit margin ahead.';
grant insert (activates_at) on tenant_data_keys to :"member";
