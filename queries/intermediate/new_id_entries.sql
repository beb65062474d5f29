-- The id index's new entries (pipelines/lake/idindex.py): the _id and date (days since 1970-01-01) of
-- each accepted version that no stored version of its _id held under the same date (reads
-- `accepted` and `stored_versions`).
select
    a._id,
    (a.date - date '1970-01-01')::integer as d
from accepted as a
left join stored_versions as s
    on a._id = s._id and a.date = s.date
where s._id is null
