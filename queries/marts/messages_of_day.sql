-- `engagement explain --date D --messages`: each room's messages on one day (the "messages" analytics
-- documents, $files, of the integer date $date), most first, and where the number comes from.
select
    room_id,
    room_name,
    room_t as t,
    sum(messages)::bigint as messages,
    'rocketchat_analytics' as source
from read_parquet($files)
where date = $date
group by room_id, room_name, room_t
order by messages desc, room_id
