-- A day-partitioned table's files ($files: those the state names), each row with its `date` (from
-- its folder, date=YYYY-MM-DD): what `engagement query` shows of chat_messages and room_daily. By
-- name: a room_daily file written before rollups kept `utc_date` lacks that column (null here).
select * from read_parquet($files, hive_partitioning = true, hive_types = {'date': 'DATE'}, union_by_name = true)
