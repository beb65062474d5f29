-- How many valid documents read in this run repeat an _id read before in it (reads `incoming`):
-- zero means latest_incoming.sql need not rank versions.
select count(*) - count(distinct _id) as repeated
from incoming
where reject_reason is null
