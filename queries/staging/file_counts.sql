-- One input file's documents in `incoming` ($file_index): how many were read, how many of them
-- are rejected, and how many valid ones repeat an _id of the file.
select
    count(*) as read,
    count(*) filter (where reject_reason is not null) as rejected,
    count(*) - count(distinct _id) as repeated
from incoming
where file_index = $file_index
