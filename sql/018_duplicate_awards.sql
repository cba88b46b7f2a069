-- Awarding twice: each template says whether one person may hold it more than once. REFUSE (the
-- default) and REPLACE keep at most one credential per person and template that is not revoked
-- (REPLACE revokes the earlier one first); ALLOW is for repeatable badges.
create type duplicate_policy as enum ('REFUSE', 'ALLOW', 'REPLACE');

alter table templates add column duplicate_policy duplicate_policy not null default 'REFUSE';
grant update (duplicate_policy) on templates to :"member";

-- Set at issuance from the template's policy (not ALLOW). The unique index below is what keeps two
-- concurrent issuances (two uploads of one file, a single issuance beside a bulk job) from both
-- succeeding; the application checks first only to name the credential that is already there.
alter table credentials add column unique_award boolean not null default false;
grant insert (unique_award) on credentials to :"member";
create unique index credentials_unique_award on credentials (tenant_id, template_id, recipient_id)
  where unique_award and status <> 'REVOKED';
comment on index credentials_unique_award is
  'At most one credential per person and template that is not revoked, for templates whose duplicate policy is REFUSE or REPLACE.';
