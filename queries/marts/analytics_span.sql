-- The analytics' span (pipelines/metrics/messages.py's room_days), as integers yyyyMMdd: from the
-- first date of the "messages" analytics documents ($messages) through the last date of any
-- analytics document ($analytics: the "messages" ones, and the "users" ones, which say Rocket.Chat
-- was counting that day too). Inside it a day without a "messages" document counted nothing.
select
    (select min(date) from read_parquet($messages)) as first,
    (select max(date) from read_parquet($analytics, union_by_name = true)) as last
