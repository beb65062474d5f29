-- The dates whose sessions partition this run changes (reads `accepted` and `replaced`): where an
-- accepted version goes, and where a replaced one leaves. Oldest first.
select distinct date from accepted
union
select distinct date from replaced
order by date
