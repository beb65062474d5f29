-- The versions already in the lake of the documents this run brings (reads `latest_incoming`), with
-- the date partition each lives in. $files: the partitions that can hold one (the incoming dates'
-- and those the id index names for the incoming _ids: pipelines/lake/idindex.py).
select
    _id,
    _updatedAt,
    date
from read_parquet($files)
where _id in (select _id from latest_incoming)
