-- Distinct non-anonymous users active on any date of the window [$first, $last], from that
-- window's user_daily partitions ($files): the week's headline number in reports.
select count(distinct userId) as users
from counted_user_days($files, $first, $last)
