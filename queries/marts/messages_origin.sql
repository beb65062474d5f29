-- Rocket.Chat's Analytics.getMessagesOrigin: the "messages" documents ($files) of dates $first..$last
-- (integers yyyyMMdd), summed per room type. Mongo's $group gives no order: here, by type.
select
    room_t as t,
    sum(messages)::bigint as messages
from read_parquet($files)
where date between $first and $last
group by room_t
order by room_t
