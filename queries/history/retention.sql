-- Retention cohorts (`engagement retention`): a user's cohort is the ISO week (Monday first) or
-- calendar month ($unit) of the first day the lake counts the user active (non-anonymous, as
-- weekly-data counts); cohorts whose period starts in $first..$last. For each cohort and k = 0, 1,
-- ... (up to $periods, when given, and to the period holding $last): how many of the cohort are
-- active in its period + k, and the share. Days after $last are never read. Reads `marks`: each
-- user's active periods up to $last as 64-bit masks (history/period_masks.sql); only the cohorts'
-- set bits are spread back into rows, several times faster on years of history than a distinct of
-- every user and period. Long form: a row per cohort and k, zeros included.
with

bounds as (
    select
        period_from($unit, $first::date) as low,
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
