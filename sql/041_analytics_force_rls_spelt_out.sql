-- The analytics tables have forced row-level security since sql/021, which set it in a loop over their
-- names (format('alter table %I force row level security', t)). Said here once more, one table a line,
-- so that reading sql/ (or grepping it) shows each tenant table's wall without running anything. No-op.
alter table analytics_credentials force row level security;
alter table analytics_first_touches force row level security;
alter table analytics_event_rollups force row level security;
alter table analytics_cohort_rollups force row level security;
alter table analytics_latency_rollups force row level security;
alter table analytics_delivery_rollups force row level security;
