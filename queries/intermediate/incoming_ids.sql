-- The _id of each incoming document (its id index key is computed from it: pipelines/lake/idindex.py),
-- and the date its incoming version belongs to as days since 1970-01-01 (reads `latest_incoming`).
select
    _id,
    (date - date '1970-01-01')::integer as d
from latest_incoming
