-- Retention cohorts (`engagement retention`): a user's cohort is the ISO week (Monday first) or
-- calendar month ($unit) of the first day the lake counts the user active (non-anonymous, as
-- weekly-data counts); cohorts whose period starts in $first..$last. For each cohort and k = 0, 1,
-- ... (up to $periods, when given, and to the period holding $last): how many of the cohort are
-- active in its period + k, and the share. Days after $last are never read. Reads the view
-- `user_daily` (pipelines/lake/snapshot.py) of every day up to $last. Long form: a row per cohort
-- and k, zeros included.
with

-- each user's active periods: every later step reads these (a few per user), not the user-days
active as (
    select distinct
        userId,
        cast(date_trunc($unit, date) as date) as period_start
    from user_daily
    where date <= $last::date
        and is_counted(role)
),

cohorts as (
    select
        userId,
        min(period_start) as cohort_start
    from active
    group by userId
    having min(period_start) between $first::date and $last::date
),

sizes as (
    select
        cohort_start,
        count(*) as cohort_size
    from cohorts
    group by cohort_start
),

-- the number of periods from a cohort's to a later period's start
offsets as (
    select
        c.cohort_start,
        case when $unit = 'week' then (a.period_start - c.cohort_start) // 7
            else datediff('month', c.cohort_start, a.period_start)
        end as period,
        count(*) as active
    from active as a
    inner join cohorts as c on c.userId = a.userId
    group by all
),

grid as (
    select
        s.cohort_start,
        s.cohort_size,
        unnest(generate_series(0, least(
            coalesce($periods, 1000000),
            case when $unit = 'week' then (cast(date_trunc('week', $last::date) as date) - s.cohort_start) // 7
                else datediff('month', s.cohort_start, cast(date_trunc('month', $last::date) as date))
            end
        ))) as period
    from sizes as s
)

select
    g.cohort_start,
    g.cohort_size,
    g.period,
    coalesce(o.active, 0) as active,
    round(coalesce(o.active, 0) / g.cohort_size, 4) as share
from grid as g
left join offsets as o on o.cohort_start = g.cohort_start and o.period = g.period
order by g.cohort_start, g.period
