-- stored_versions.sql's columns with no rows, for a new lake (reads `incoming` for the types).
select
    _id,
    _updatedAt,
    date
from incoming
where false
