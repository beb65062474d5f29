-- Rocket.Chat's Analytics.getMessagesOrigin: the rooms' messages per day (`room_days`) of dates $first..$last
-- (integers yyyyMMdd), summed per room type. Mongo's $group gives no order: here, by type.
select
    room_t as t,
    sum(messages)::bigint as messages
from room_days
where date between $first and $last
group by room_t
order by room_t
