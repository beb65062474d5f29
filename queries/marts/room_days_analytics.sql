-- The rooms' messages per day from the type "messages" analytics documents ($files), of the dates
-- $first..$last (integers yyyyMMdd): the Messages and Channels tabs' own source (pipelines/metrics/
-- messages.py's room_days puts these and marts/room_days_filled.sql's rows together).
select
    date,
    room_id,
    room_name,
    room_t,
    usernames,
    messages,
    'rocketchat_analytics' as source
from read_parquet($files)
where date between $first and $last
