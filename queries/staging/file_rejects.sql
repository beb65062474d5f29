-- The rejected documents of one input file ($file_index) from line $first_line on, with their
-- reason and the date they name (null: none), in line order (reads `incoming`): the careful path
-- reports them batch by batch.
select
    line_no,
    reject_reason,
    date
from incoming
where file_index = $file_index
    and line_no >= $first_line
    and reject_reason is not null
order by line_no
