-- The week's "who stays" line (the report's page and email): of the 8 days $first..$last, how many
-- users were new (their first counted day in the lake falls in them), and of the users first counted
-- in the 8 days four weeks earlier ($cohort_first..$cohort_last), how many there were and how many
-- of them were active in $first..$last. Users are non-anonymous, as weekly-data counts them. Reads
-- `firsts` (history/first_days.sql: every user's first day, of the same snapshot) and the view
-- `user_daily` (pipelines/lake/snapshot.py).
with

active_now as (
    select distinct userId
    from user_daily
    where date between $first::date and $last::date
        and is_counted(role)
)

select
    count(*) filter (where first_day between $first::date and $last::date) as new,
    count(*) filter (where first_day between $cohort_first::date and $cohort_last::date) as cohort,
    count(*) filter (
        where first_day between $cohort_first::date and $cohort_last::date
            and userId in (select userId from active_now)
    ) as back
from firsts
