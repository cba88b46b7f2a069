-- Extending a request's deadline (GDPR Art. 12(3)): "That period may be extended by two further months
-- where necessary, taking into account the complexity and number of the requests. The controller shall
-- inform the data subject of any such extension within one month of receipt of the request, together
-- with the reasons for the delay." Once per request, before its first deadline, with the reasons; the
-- first deadline is kept. Erasure is not extended: Laurel promises it within seven working days.

alter table data_subject_requests
  add column original_deadline_at timestamptz,
  add column extended_at timestamptz,
  add column extension_reason text check (length(extension_reason) between 1 and 2000),
  add constraint data_subject_requests_extension_whole check (
    (extended_at is null and extension_reason is null and original_deadline_at is null)
    or (extended_at is not null and extension_reason is not null and original_deadline_at is not null
        and kind <> 'erasure' and extended_at <= original_deadline_at and deadline_at > original_deadline_at));
grant update (original_deadline_at, extended_at, extension_reason, deadline_at) on data_subject_requests to :"member";

-- The record stays a record: the deadline moves once, by an extension of at most two further months, of
-- a pending request, keeping the first deadline beside it; no runtime role may rewrite it otherwise. A
-- superuser (the operator, by hand) still can.
create function data_subject_requests_keep_deadline() returns trigger
  language plpgsql set search_path = pg_catalog, pg_temp
  as $fn$
  begin
    if current_setting('is_superuser') = 'on' then
      return new;
    end if;
    if new.deadline_at is distinct from old.deadline_at or new.original_deadline_at is distinct from old.original_deadline_at
       or new.extended_at is distinct from old.extended_at or new.extension_reason is distinct from old.extension_reason then
      if old.extended_at is not null or new.extended_at is null or new.original_deadline_at is distinct from old.deadline_at
         or new.deadline_at > old.deadline_at + interval '2 months 1 day'
         or old.state not in ('open', 'in_progress') then
        raise exception 'a deadline moves only once, by an extension of at most two further months, of a pending request'
          using errcode = 'LRDLN';
      end if;
    end if;
    return new;
  end $fn$;
comment on function data_subject_requests_keep_deadline() is
  'Trigger: a request''s deadline moves only by one extension of a pending request (GDPR Art. 12(3)), its first deadline kept.';
revoke execute on function data_subject_requests_keep_deadline() from public;
create trigger data_subject_requests_keep_deadline before update on data_subject_requests
  for each row execute function data_subject_requests_keep_deadline();
