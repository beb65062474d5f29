-- GET engagement-dashboard/users/chat-busier/hourly-data: the logins (the view `logins`, of the
-- days around the window: marts/logins.sql) whose loginAt lies in [$from, $to]; for each even UTC
-- hour h, the distinct users of sessions with hour(loginAt) <= h and either no closedAt or
-- h <= hour(closedAt). All twelve hours, highest first, zeros kept.
with

sessions as (
    select
        userId,
        hour(loginAt) as login_hour,
        closedHour as closed_hour
    from logins
    where loginAt between $from and $to
),

hours as (
    select unnest(range(0, 24, 2)) as hour
),

final as (
    select
        h.hour,
        count(distinct s.userId) as users
    from hours as h
    left join sessions as s
        on s.login_hour <= h.hour
        and (s.closed_hour is null or h.hour <= s.closed_hour)
    group by h.hour
)

select
    users,
    hour::integer as hour
from final
order by hour desc
