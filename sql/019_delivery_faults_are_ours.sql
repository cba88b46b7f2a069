-- Failures on our side are ours, and a status says no more than what happened.
--
-- 1. An email's content is fixed when it is queued: email_outbox.content holds the exact message
--    (from, reply-to, subject, html, text, tags) that every attempt sends, so a retry after a lost answer
--    repeats the first request byte for byte, whatever was edited meanwhile. It may hold a secret (an
--    invitation's accept link), so, like the payload, runtime roles may write it but never read it: the
--    worker gets it by claiming the message, and it is forgotten once the message has left.
--    email_outbox.request_key is the idempotency key of the request a message was put in, written before
--    that request is made and cleared once its answer is known: while the answer is unknown (no answer, a
--    crash) the message is only ever sent again in that same request, so a changed set of messages
--    (which would change a batch's key) cannot send it twice.
-- 2. The demo outbox (no RESEND_API_KEY) stores messages; it never sends them. 'stored' says so, and
--    nothing that waits for a provider's "delivered" (partner events, undelivered lists) reads it as sent.
-- 3. A deliver_webhook job fails only for our own errors (the partner's are logged by the task and
--    retried on the delivery's own schedule), so it gets the attempts of a fault someone must fix.

alter type email_status add value 'stored' after 'sending';

alter table email_outbox add column content jsonb;
comment on column email_outbox.content is
  'The message exactly as sent on every attempt, fixed at enqueue; unreadable to runtime roles (an invitation''s holds its accept link).';
-- Written with the row (subject and sender too, so the outbox shows them while a message waits).
grant insert (content, subject, from_address), update (content) on email_outbox to :"member";
alter table email_outbox add column request_key text check (length(request_key) <= 256);
grant select (request_key), update (request_key) on email_outbox to :"member";

drop function claim_email_messages(uuid[]);
create function claim_email_messages(p_ids uuid[])
  returns table (id uuid, kind text, to_email text, locale text, payload jsonb, credential_id uuid, recipient_id uuid,
                 created_at timestamptz, content jsonb, request_key text)
  language sql volatile security definer set search_path = pg_catalog, pg_temp
  as $$
    update public.email_outbox o set status = 'sending', attempts = o.attempts + 1
     where o.tenant_id = public.current_tenant_id() and o.id = any(p_ids) and o.status in ('queued', 'sending')
    returning o.id, o.kind, o.to_email, o.locale, o.payload,
              coalesce(o.credential_id, (o.payload ->> 'credentialId')::uuid), o.recipient_id, o.created_at, o.content,
              o.request_key
  $$;
comment on function claim_email_messages(uuid[]) is
  'Marks the current tenant''s queued messages as sending and hands the worker their payloads and fixed content; nothing of another tenant matches.';
revoke execute on function claim_email_messages(uuid[]) from public;
grant execute on function claim_email_messages(uuid[]) to :"member";

create or replace function forget_sent_secrets(p_ids uuid[])
  returns void
  language sql volatile security definer set search_path = pg_catalog, pg_temp
  as $$
    update public.email_outbox o set payload = o.payload - 'token' - 'acceptUrl', content = null
     where o.tenant_id = public.current_tenant_id() and o.id = any(p_ids) and o.status not in ('queued', 'sending', 'failed')
       and (o.payload ?| array['token', 'acceptUrl'] or o.content is not null)
  $$;
comment on function forget_sent_secrets(uuid[]) is
  'Drops an invitation''s token and every message''s fixed content once it has left (or been stored): the outbox keeps no usable secret.';

-- emit_partner_events_for() belongs to the gatekeeper (sql/017): only its owner may replace it.
set local role :"gatekeeper";
create or replace function emit_partner_events_for(p_tenant_id uuid, p_event_type text, p_items jsonb)
  returns integer
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
  as $$
  declare
    delivery record;
    n integer := 0;
  begin
    if not exists (select 1 from public.webhook_endpoints e
                    where e.tenant_id = p_tenant_id and e.enabled and p_event_type = any(e.event_types)) then
      return 0;
    end if;
    for delivery in
      insert into public.webhook_deliveries (tenant_id, endpoint_id, event_type, payload)
      select e.tenant_id, e.id, p_event_type,
             jsonb_build_object('type', p_event_type,
                                'timestamp', to_char(clock_timestamp() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                                'data', item.value)
        from public.webhook_endpoints e cross join jsonb_array_elements(p_items) item
       where e.tenant_id = p_tenant_id and e.enabled and p_event_type = any(e.event_types)
      returning id
    loop
      -- 25 attempts (WEBHOOK_JOB_ATTEMPTS): the job fails only for our own errors, retried for days.
      perform public.queue_job_for(p_tenant_id, 'deliver_webhook', jsonb_build_object('deliveryId', delivery.id), null, null, 25);
      n := n + 1;
    end loop;
    return n;
  end
  $$;
comment on function emit_partner_events_for(uuid, text, jsonb) is
  'Owner-only: called by definer functions that have already established the tenant (provider webhooks, engagement).';
set local role :"owner";
