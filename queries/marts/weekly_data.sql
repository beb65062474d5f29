-- GET engagement-dashboard/users/chat-busier/weekly-data: non-anonymous active users per date of
-- the window [$first, $last], from that window's user_daily partitions ($files), newest first.
with

user_days as (
    select
        date,
        userId
    from counted_user_days($files, $first, $last)
),

final as (
    select
        date,
        count(distinct userId) as users
    from user_days
    group by date
)

select
    users,
    day(date)::integer as day,
    month(date)::integer as month,
    year(date)::integer as year
from final
where users > 0
order by date desc
