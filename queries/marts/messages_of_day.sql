-- `engagement explain --date D --messages`: each room's messages on one day (`room_days` of the
-- integer date $date), most first, and where the number comes from: the "messages" analytics
-- documents (rocketchat_analytics) or the messages by Rocket.Chat's fill rule (rocketchat_message).
select
    room_id,
    room_name,
    room_t as t,
    sum(messages)::bigint as messages,
    source
from room_days
where date = $date
group by room_id, room_name, room_t, source
order by messages desc, room_id
