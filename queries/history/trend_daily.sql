-- Daily active users of dates $first..$last as Rocket.Chat's Active Users chart defines them:
-- dau, the non-anonymous active users of the day (weekly-data's number for that date); wau and
-- mau, the distinct such users of the 7 and 30 days ending that day, exact for every day (the
-- days before $first are read too). Reads the view `user_daily` (pipelines/lake/snapshot.py) of
-- $first - 29 .. $last; $held lists the dates the lake holds any document for (has_data). Every
-- date is a row. $widths: the windows counted (7 and 30; with 8, `window_users` is the distinct
-- users of the 8 days ending that day, weekly-data's window: metrics/daily.py asks for it, else 0).
with

user_days as (
    select distinct
        date,
        userId
    from user_daily
    where date between $first::date - 29 and $last::date
        and is_counted(role)
),

dates as (
    select cast(unnest(generate_series($first::date, $last::date, interval 1 day)) as date) as date
),

daily as (
    select
        date,
        count(*) as dau
    from user_days
    where date >= $first::date
    group by date
),

widths as (
    select unnest($widths::integer[]) as width
),

-- a user active on day t counts in the window of every day t .. t + width - 1: per user-day, one
-- +1 on t and one -1 where its span ends (the user's next active day, or t + width, whichever comes
-- first), so each user's spans never overlap and the running sum counts users, not days
nexts as (
    select
        userId,
        date,
        lead(date) over (partition by userId order by date) as next
    from user_days
),

changes as (
    select
        w.width,
        n.date,
        1 as change
    from nexts as n
    cross join widths as w
    union all
    select
        w.width,
        least(coalesce(n.next, n.date + w.width), n.date + w.width) as date,
        -1 as change
    from nexts as n
    cross join widths as w
),

counted as (
    select
        width,
        date,
        sum(sum(change)) over (partition by width order by date rows unbounded preceding) as users
    from (
        select width, date, change from changes
        union all
        select width, date, 0 as change from dates cross join widths
    )
    group by width, date
),

final as (
    select
        d.date,
        coalesce(daily.dau, 0) as dau,
        coalesce(w.users, 0)::bigint as wau,
        coalesce(m.users, 0)::bigint as mau,
        list_contains($held, d.date) as has_data,
        coalesce(e.users, 0)::bigint as window_users
    from dates as d
    left join daily on daily.date = d.date
    left join counted as w on w.width = 7 and w.date = d.date
    left join counted as m on m.width = 30 and m.date = d.date
    left join counted as e on e.width = 8 and e.date = d.date
)

select * from final
order by date
