-- Rocket.Chat's Analytics.getMessagesSentTotalByDate: the rooms' messages per day (`room_days`: pipelines/metrics/messages.py) of dates
-- $first..$last (integers yyyyMMdd), summed per date, latest date first, the first $limit dates.
select
    date,
    sum(messages)::bigint as messages
from room_days
where date between $first and $last
group by date
order by date desc
limit $limit
