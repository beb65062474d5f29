-- Active users per ISO week (Monday first) or calendar month ($unit: 'week' or 'month') of dates
-- $first..$last: distinct non-anonymous active users of the period's days inside the range, their
-- user-days, and the average DAU over the days of those the lake holds (a held day without users
-- counts as 0; a day the lake does not hold is not averaged; no held day: null, as the reports do).
-- A period the range cuts, or with a day the lake does not hold, is `partial`. Reads the view `user_daily` (pipelines/lake/snapshot.py) of $first..$last;
-- $held lists the dates the lake holds any document for.
with

user_days as (
    select distinct
        date,
        userId
    from user_daily
    where date between $first::date and $last::date
        and is_counted(role)
),

dates as (
    select cast(unnest(generate_series($first::date, $last::date, interval 1 day)) as date) as date
),

periods as (
    select
        cast(date_trunc($unit, date) as date) as period_start,
        count(*) as days,
        count(*) filter (where list_contains($held, date)) as days_with_data
    from dates
    group by period_start
),

activity as (
    select
        cast(date_trunc($unit, date) as date) as period_start,
        count(distinct userId) as users,
        count(*) as user_days
    from user_days
    group by period_start
),

ends as (
    select
        period_start,
        case when $unit = 'week' then period_start + 6 else last_day(period_start) end as period_end
    from periods
),

final as (
    select
        p.period_start,
        -- the calendar's last week runs past 9999-12-31: it ends there (and is partial)
        least(e.period_end, date '9999-12-31') as period_end,
        coalesce(a.users, 0) as users,
        coalesce(a.user_days, 0) as user_days,
        round(coalesce(a.user_days, 0) / nullif(p.days_with_data, 0), 2) as avg_dau,
        p.days,
        p.days_with_data,
        p.period_start < $first::date or e.period_end > $last::date or p.days_with_data < p.days as partial
    from periods as p
    join ends as e on e.period_start = p.period_start
    left join activity as a on a.period_start = p.period_start
)

select * from final
order by period_start
