-- Rocket.Chat's Analytics.getMessagesSentTotalByDate: the "messages" documents ($files) of dates
-- $first..$last (integers yyyyMMdd), summed per date, latest date first, the first $limit dates.
select
    date,
    sum(messages)::bigint as messages
from read_parquet($files)
where date between $first and $last
group by date
order by date desc
limit $limit
