-- Stickiness per day (`engagement stickiness --show daily`) of $first..$last: dau (weekly-data's
-- number for the day), dau_avg_30 (the average DAU over the days of the 30 ending that day that the
-- lake holds, from its first day $lake_first on; a held day without users counts 0), mau (the
-- distinct users of those 30 days), dau_mau = dau_avg_30 / mau, and retained_30: Synapse's 30-day
-- retained users, those seen on two days more than 30 days apart within the 60 days ending that
-- day; `partial` when those 60 days reach before $lake_first (mau and retained_30 may then count
-- fewer than the server had). Users are non-anonymous, as weekly-data counts them. Reads the view
-- `user_daily` (pipelines/lake/snapshot.py) of $first - 59 .. $last.
with

user_dates as materialized (
    select
        userId,
        date
    from user_daily
    where date between $first::date - 59 and $last::date
        and is_counted(role)
),

-- each user as a small number (sorting each user's days by it, not by the text of the id, is
-- what keeps the window passes below quick)
numbered as (
    select
        userId,
        row_number() over () as uid
    from (select distinct userId from user_dates)
),

user_days as materialized (
    select
        n.uid as userId,
        c.date
    from user_dates as c
    inner join numbered as n on n.userId = c.userId
),

dates as (
    select cast(unnest(generate_series($first::date - 29, $last::date, interval 1 day)) as date) as date
),

daily as (
    select
        d.date,
        count(u.userId) as dau
    from dates as d
    left join user_days as u on u.date = d.date
    group by d.date
),

averaged as (
    select
        date,
        dau,
        sum(dau) over thirty
            / greatest(count(*) filter (where date >= $lake_first::date) over thirty, 1) as dau_avg_30
    from daily
    window thirty as (order by date rows between 29 preceding and current row)
),

-- one pass over each user's days: the gap to the day before (mau), and the latest active day 31..59
-- days before (retained)
stepped as materialized (
    select
        userId,
        date,
        date - lag(date) over by_user as gap,
        max(date) over (by_user range between interval 59 days preceding and interval 31 days preceding) as a
    from user_days
    window by_user as (partition by userId order by date)
),

-- mau: a user active on day t counts for t .. t + 29; runs of such spans joined into islands
mau_islands as (
    select
        userId,
        date,
        sum(case when gap is null or gap > 30 then 1 else 0 end)
            over (partition by userId order by date rows unbounded preceding) as island
    from stepped
),

-- retained: for each active day b, the latest active day a 31..59 days before it makes the user
-- retained on every day t of b .. a + 59; overlapping spans of a user joined into one
spans as (
    select
        userId,
        date as span_start,
        cast(a + 59 as date) as span_end,
        max(cast(a + 59 as date)) over (
            partition by userId order by date rows between unbounded preceding and 1 preceding
        ) as reached
    from stepped
    where a is not null
),

retained_islands as (
    select
        userId,
        span_start,
        span_end,
        sum(case when reached is null or span_start > reached + 1 then 1 else 0 end)
            over (partition by userId order by span_start rows unbounded preceding) as island
    from spans
),

changes as (
    select 'mau' as what, min(date) as date, 1 as change from mau_islands group by userId, island
    union all
    select 'mau', max(date) + 30, -1 from mau_islands group by userId, island
    union all
    select 'retained', min(span_start), 1 from retained_islands group by userId, island
    union all
    select 'retained', max(span_end) + 1, -1 from retained_islands group by userId, island
),

counted as (
    select
        what,
        date,
        sum(sum(change)) over (partition by what order by date rows unbounded preceding) as users
    from (
        select what, date, change from changes
        union all
        select what, date, 0 as change from dates cross join (select unnest(['mau', 'retained']) as what)
    )
    group by what, date
)

select
    a.date,
    a.dau,
    round(a.dau_avg_30, 2) as dau_avg_30,
    coalesce(m.users, 0)::bigint as mau,
    case when coalesce(m.users, 0) > 0 then round(a.dau_avg_30 / m.users, 4) end as dau_mau,
    coalesce(r.users, 0)::bigint as retained_30,
    a.date - 59 < $lake_first::date as partial
from averaged as a
left join counted as m on m.what = 'mau' and m.date = a.date
left join counted as r on r.what = 'retained' and r.date = a.date
where a.date >= $first::date
order by a.date
