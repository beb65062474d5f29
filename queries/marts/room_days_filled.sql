-- The rooms' messages per day from rocketchat_message, by Rocket.Chat's own fill rule
-- (Messages.getTotalOfMessagesSentByDate, which a server runs when it has no "messages" analytics
-- documents): the messages without `t`, per room and day, joined with the rooms that exist ($rooms:
-- a message whose room is gone is not counted), the room named by its fname, else its name, its
-- usernames or none. Reads the room_daily partitions $days (pipelines/ingest/messages.py), never the
-- messages themselves. Rocket.Chat's fill dates a message by the UTC day of its ts; the lake dates it
-- by its day in the lake's zone, as the analytics documents around it are dated (the same on a
-- server that runs in UTC).
select
    cast(strftime(d.date, '%Y%m%d') as integer) as date,
    r._id as room_id,
    coalesce(r.fname, r.name) as room_name,
    r.t as room_t,
    coalesce(r.usernames, []::varchar[]) as usernames,
    d.messages,
    'rocketchat_message' as source
from read_parquet($days, hive_partitioning = true, hive_types = {'date': 'DATE'}) as d
inner join read_parquet($rooms) as r on r._id = d.rid
where d.messages > 0
