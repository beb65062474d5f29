-- GET engagement-dashboard/users/users-by-time-of-the-day-in-a-week: the logins (the view `logins`
-- of the days around the range: marts/logins.sql) whose loginAt lies in [$from, $to]; each covers
-- the UTC hours hour(loginAt) .. hour(closedAt) (.. 23 when not closed) of its own (UTC) day; per
-- (date, hour) the distinct users. Newest first.
with

sessions as (
    select
        userId,
        cast(loginAt as date) as date,
        hour(loginAt) as first_hour,
        coalesce(closedHour, 23) as last_hour
    from logins
    where loginAt between $from and $to
),

covered as (
    select
        date,
        unnest(range(first_hour, last_hour + 1)) as hour,
        userId
    from sessions
),

final as (
    select
        date,
        hour,
        count(distinct userId) as users
    from covered
    group by
        date,
        hour
)

select
    users,
    hour::integer as hour,
    day(date)::integer as day,
    month(date)::integer as month,
    year(date)::integer as year
from final
order by
    date desc,
    hour desc
