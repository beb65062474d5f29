-- Retention cohorts (`engagement retention`): a user's cohort is the ISO week (Monday first) or
-- calendar month ($unit) of the first day the lake counts the user active (non-anonymous, as
-- weekly-data counts); cohorts whose period starts in $first..$last. For each cohort and k = 0, 1,
-- ... (up to $periods, when given, and to the period holding $last): how many of the cohort are
-- active in its period + k, and the share. Days after $last are never read. Reads the view
-- `user_daily` (pipelines/lake/snapshot.py) of every day up to $last. Long form: a row per cohort
-- and k, zeros included.
--
-- The user-days are aggregated once, into each user's active periods as 64-bit masks (a row per
-- user and block of 64 periods: macros/period_index.sql numbers the periods), and only the cohorts'
-- set bits are spread back into rows: on years of history that is several times faster than a
-- distinct of every user and period.
with

marks as materialized (
    select
        userId,
        idx // 64 as chunk,
        bit_or(1::ubigint << cast(idx % 64 as ubigint)) as mask
    from (
        select userId, period_index($unit, date) as idx
        from user_daily
        where date <= $last::date
            and is_counted(role)
    )
    group by userId, chunk
),

bounds as (
    select
        period_index($unit, $first::date)
            + case when period_start($unit, period_index($unit, $first::date)) < $first::date then 1 else 0 end
            as low,
        period_index($unit, $last::date) as high
),

users as (
    select
        chunk,
        mask,
        min(chunk * 64 + lowest_bit(mask)) over (partition by userId) as cohort
    from marks
),

active as (
    select
        u.cohort,
        u.chunk * 64 + b.bit - u.cohort as period
    from users as u
    cross join (select unnest(range(64)) as bit) as b
    where u.cohort between (select low from bounds) and (select high from bounds)
        and (u.mask >> b.bit) & 1 = 1
        and u.chunk * 64 + b.bit >= u.cohort
),

offsets as materialized (
    select
        cohort,
        period,
        count(*) as active
    from active
    where $periods is null or period <= $periods
    group by cohort, period
),

grid as (
    select
        o.cohort,
        o.active as cohort_size,
        unnest(generate_series(0, least(coalesce($periods, 1000000), (select high from bounds) - o.cohort))) as period
    from offsets as o
    where o.period = 0
)

select
    period_start($unit, g.cohort) as cohort_start,
    g.cohort_size,
    g.period,
    coalesce(o.active, 0) as active,
    round(coalesce(o.active, 0) / g.cohort_size, 4) as share
from grid as g
left join offsets as o on o.cohort = g.cohort and o.period = g.period
order by g.cohort, g.period
