-- Rows that break "one stored version per _id": any _id found in more than one row of the
-- sessions partitions ($files). Zero rows pass.
select
    _id,
    count(*) as copies
from read_parquet($files)
group by _id
having count(*) > 1
