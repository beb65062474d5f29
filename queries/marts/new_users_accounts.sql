-- Registrations counted from the accounts themselves ($files: the users table), when the lake has
-- no analytics: accounts whose roles do not include "anonymous", per server-local ($tz) day of
-- createdAt as an integer yyyyMMdd (the day Rocket.Chat's afterCreateUser records), for dates
-- $first..$last, latest first, the first $limit dates: the shape of new_users_analytics.sql.
with

days as (
    select cast(timezone($tz, timezone('UTC', createdAt)) as date) as local_day
    from read_parquet($files)
    where not anonymous
),

numbered as (
    select (year(local_day) * 10000 + month(local_day) * 100 + day(local_day))::integer as date
    from days
)

select
    date,
    count(*)::bigint as users
from numbered
where date between $first and $last
group by date
order by date desc
limit $limit
