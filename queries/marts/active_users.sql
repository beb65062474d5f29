-- GET engagement-dashboard/users/active-users: for each date in [$first, $last], the active
-- user-days whose role is not anonymous, with their user ids; newest first, empty dates left out.
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
        list(userId order by userId) as users_list,
        count(distinct userId) as users
    from user_days
    group by date
)

select
    day(date)::integer as day,
    month(date)::integer as month,
    year(date)::integer as year,
    users_list,
    users
from final
order by date desc
