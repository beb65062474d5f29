-- An ingest's incoming rooms with each forgotten username (in a room's usernames, its name or fname)
-- replaced by its pseudonym, before they are merged (pipelines/lake/forgetting.py). Reads
-- `incoming_rooms` and `forgotten_usernames` (username_map.sql).
update incoming_rooms
set
    usernames = list_transform(usernames, lambda x: coalesce(m.names[x], x)),
    name = coalesce(m.names[name], name),
    fname = coalesce(m.names[fname], fname)
from forgotten_usernames as m
