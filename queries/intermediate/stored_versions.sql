-- The versions already in the lake ($files: every current sessions partition) of the documents
-- this run brings (reads `latest_incoming`), with the date partition each lives in.
select
    _id,
    _updatedAt,
    date
from read_parquet($files)
where _id in (select _id from latest_incoming)
