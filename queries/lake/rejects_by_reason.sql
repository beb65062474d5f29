-- Rejected documents per reason, of the input files $files (reads the view `rejects`).
select
    reason,
    count(*) as documents
from rejects
where file in (select unnest($files::varchar[]))
group by reason
order by reason
