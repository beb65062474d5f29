-- Where `room_days`' numbers of dates $first..$last (yyyyMMdd) come from (rocketchat_analytics,
-- rocketchat_message), each once.
select distinct source
from room_days
where date between $first and $last
order by source
