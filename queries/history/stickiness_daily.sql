-- Stickiness per day (`engagement stickiness --show daily`) of $first..$last: dau (weekly-data's
-- number for the day), dau_avg_30 (the average DAU over the days of the 30 ending that day that the
-- lake holds, from its first day $lake_first on; a held day without users counts 0), mau (the
-- distinct users of those 30 days), dau_mau = dau_avg_30 / mau, and retained_30: Synapse's 30-day
-- retained users, those seen on two days more than 30 days apart within the 60 days ending that
-- day; `partial` when those 60 days reach before $lake_first (mau and retained_30 may then count
-- fewer than the server had). Users are non-anonymous, as weekly-data counts them. Reads the view
-- `user_daily` (pipelines/lake/snapshot.py) of $first - 59 .. $last.
--
-- One pass over each user's days, in order (d1 < d2 < ...), gives every count as spans that never
-- overlap for one user, so each is one +1 and one -1 and no spans need joining:
--   mau       a user counts from d(i) to min(d(i) + 29, d(i+1) - 1);
--   retained  on the days whose earliest active day of the last 60 is d(i), i.e. from d(i-1) + 60
--             to d(i) + 59, a user is retained from the first active day g(i) >= d(i) + 31 on
--             (when there is one by d(i) + 59): from max(d(i-1) + 60, g(i)) to d(i) + 59.
with

-- days as whole numbers: the one order every window shares (one sort of the user-days)
stepped as materialized (
    select
        d,
        lag(d) over by_user as before,
        lead(d) over by_user as after,
        min(d) over (by_user range between 31 following and 59 following) as g
    from (
        select userId, date - date '0001-01-01' as d
        from user_daily
        where date between $first::date - 59 and $last::date
            and is_counted(role)
    )
    window by_user as (partition by userId order by d)
),

changes as (
    select 'mau' as what, d, 1 as change from stepped
    union all
    select 'mau', least(d + 30, coalesce(after, d + 30)), -1 from stepped
    union all
    select 'retained', greatest(coalesce(before + 60, g), g), 1 from stepped where g is not null
    union all
    select 'retained', d + 60, -1 from stepped where g is not null and greatest(coalesce(before + 60, g), g) <= d + 59
),

dates as (
    select cast(unnest(generate_series($first::date - 29, $last::date, interval 1 day)) as date) as date
),

daily as (
    select
        date '0001-01-01' + cast(d as integer) as date,
        count(*) as dau
    from stepped
    group by d
),

averaged as (
    select
        t.date,
        coalesce(u.dau, 0) as dau,
        sum(coalesce(u.dau, 0)) over thirty
            / greatest(count(*) filter (where t.date >= $lake_first::date) over thirty, 1) as dau_avg_30
    from dates as t
    left join daily as u on u.date = t.date
    window thirty as (order by t.date rows between 29 preceding and current row)
),

counted as (
    select
        what,
        date '0001-01-01' + cast(d as integer) as date,
        sum(sum(change)) over (partition by what order by d rows unbounded preceding) as users
    from (
        select what, d, change from changes
        union all
        select what, date - date '0001-01-01' as d, 0 as change
        from dates cross join (select unnest(['mau', 'retained']) as what)
    )
    group by what, d
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
