-- Lifecycle (`engagement lifecycle`), as PostHog draws it: per day, ISO week (Monday first) or
-- calendar month ($unit) starting in $first..$last, the users active in it (non-anonymous, as
-- weekly-data counts) who are
--   new          their first day the lake counts them falls in this period;
--   returning    active in the previous period too;
--   resurrecting not active in the previous period, and first seen before it;
-- and dormant: the users active in the previous period and not in this one, as a negative number.
-- Days after $last are never read (a last period cut by $last counts its days up to $last). Reads
-- the view `user_daily` (pipelines/lake/snapshot.py) of every day up to $last.
with

active as (
    select distinct
        userId,
        cast(date_trunc($unit, date) as date) as period_start
    from user_daily
    where date <= $last::date
        and is_counted(role)
),

firsts as (
    select
        userId,
        min(period_start) as first_period
    from active
    group by userId
),

periods as (
    select
        period_start,
        cast(period_start - ('1 ' || $unit)::interval as date) as previous_start
    from (
        select cast(unnest(generate_series($first::date, $last::date, interval 1 day)) as date) as period_start
    )
    where cast(date_trunc($unit, period_start) as date) = period_start
),

now_active as (
    select
        p.period_start,
        f.first_period = p.period_start as is_new,
        b.userId is not null as was_active
    from periods as p
    inner join active as a on a.period_start = p.period_start
    inner join firsts as f on f.userId = a.userId
    left join active as b on b.userId = a.userId and b.period_start = p.previous_start
),

gone as (
    select
        p.period_start,
        count(*) as dormant
    from periods as p
    inner join active as b on b.period_start = p.previous_start
    anti join active as a on a.userId = b.userId and a.period_start = p.period_start
    group by p.period_start
),

counts as (
    select
        period_start,
        count(*) filter (where is_new) as new,
        count(*) filter (where not is_new and was_active) as returning,
        count(*) filter (where not is_new and not was_active) as resurrecting
    from now_active
    group by period_start
)

select
    p.period_start,
    coalesce(c.new, 0) as new,
    coalesce(c.returning, 0) as returning,
    coalesce(c.resurrecting, 0) as resurrecting,
    -coalesce(g.dormant, 0) as dormant
from periods as p
left join counts as c on c.period_start = p.period_start
left join gone as g on g.period_start = p.period_start
order by p.period_start
