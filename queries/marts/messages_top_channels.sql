-- Rocket.Chat's Analytics.getMostPopularChannelsByMessagesSentQuantity: the rooms' messages per day
-- (`room_days`) of dates $first..$last (integers yyyyMMdd), summed per room (type, name and usernames, as
-- Rocket.Chat groups them), most messages first, the first five. Mongo breaks ties arbitrarily: here
-- by type, then name.
select
    room_t as t,
    sum(messages)::bigint as messages,
    room_name as name,
    usernames
from room_days
where date between $first and $last
group by room_t, room_name, usernames
order by messages desc, t, name nulls last, usernames
limit 5
