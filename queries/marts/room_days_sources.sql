-- Where `room_days`' numbers come from (rocketchat_analytics, rocketchat_message), each once.
select distinct source from room_days order by source
