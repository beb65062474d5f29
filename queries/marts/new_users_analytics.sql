-- Rocket.Chat's Analytics.getTotalOfRegisteredUsersByDate: the "users" documents ($files) of dates
-- $first..$last (integers yyyyMMdd), summed per date, latest date first, the first $limit dates.
select
    date,
    sum(users)::bigint as users
from read_parquet($files)
where date between $first and $last
group by date
order by date desc
limit $limit
