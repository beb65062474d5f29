-- The rejected documents that name $date, per reason and rejects file (reads the view `rejects`).
select
    reason,
    count(*) as documents,
    rejects_file
from rejects
where date = $date
group by reason, rejects_file
order by documents desc, reason, rejects_file
