-- The first local day among the room_daily partitions $files with a message Rocket.Chat's live
-- counter would have counted (saveMessageSent: a message without `t` in a room of the dashboard's
-- types $types, by the rooms $rooms), or null: after the last analytics document, such a message
-- says the analytics export does not cover its day (pipelines/metrics/messages.py's analytics_span).
select min(d.date) as first_day
from read_parquet($files, hive_partitioning = true, hive_types = {'date': 'DATE'}, union_by_name = true) as d
inner join read_parquet($rooms) as r on r._id = d.rid
where d.messages > 0 and r.t in (select unnest($types))
