-- An ingest's incoming "messages" analytics documents with each forgotten username (in usernames and
-- room_name) replaced by its pseudonym, before they are merged (pipelines/lake/forgetting.py). Reads
-- `incoming_messages` and `forgotten_usernames` (username_map.sql).
update incoming_messages
set
    usernames = list_transform(usernames, lambda x: coalesce(m.names[x], x)),
    room_name = coalesce(m.names[room_name], room_name)
from forgotten_usernames as m
