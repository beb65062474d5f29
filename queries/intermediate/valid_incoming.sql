-- The documents read in this run that were not rejected (reads `incoming`). When no _id came
-- twice, these are already the latest versions: nothing to rank (most exports).
select *
from incoming
where reject_reason is null
