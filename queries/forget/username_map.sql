-- The run's forgotten usernames as one map, value -> pseudonym (no row when there are none), for the
-- queries that put pseudonyms in lists of usernames (scrub_rooms, scrub_messages). Reads
-- `forgotten_values` (kind, value, pseudonym).
select map(list(value), list(pseudonym)) as names
from forgotten_values
where kind = 'username'
having count(*) > 0
