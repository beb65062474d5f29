-- The columns of a sessions partition, with no rows (reads `accepted`): the stand-in file for a
-- day the lake does not hold yet, so partition_rows.sql reads the same columns either way.
select * exclude (file_index, line_no, reject_reason)
from accepted
limit 0
