-- Retention (sql/045) blanks the bodies of a tenant's finished messages once they are older than its
-- setting, every day, in batches: this index finds them by the same "done" instant the job computes
-- (delivered, bounced or complained when the provider said so, else sent, else last changed) without
-- reading every finished message of the tenant each day.
create index email_outbox_done_at on email_outbox
  (tenant_id, (coalesce(delivered_at, bounced_at, complained_at, sent_at, updated_at)))
  where status in ('sent', 'delivered', 'bounced', 'complained', 'failed', 'stored');
