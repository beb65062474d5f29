-- The stored versions that an accepted version replaces, with the date partition each lives in
-- (reads `stored_versions` and `accepted`): partition_rows.sql leaves them out of their day.
select
    _id,
    date
from stored_versions
where _id in (select _id from accepted)
