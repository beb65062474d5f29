-- The _id and date (days since 1970-01-01) of every stored row ($files: sessions partitions): the
-- id index of a lake written before there was one is built from them (pipelines/lake/idindex.py).
select
    _id,
    (date - date '1970-01-01')::integer as d
from read_parquet($files)
