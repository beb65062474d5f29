-- An ingest's incoming "messages" analytics documents with each forgotten username (in usernames and
-- room_name) replaced by its pseudonym, before they are merged (pipelines/lake/forgetting.py). Reads
-- `incoming_messages` and `forgotten_values` (kind, value, pseudonym).
update incoming_messages
set
    usernames = list_transform(usernames, lambda x: coalesce(m.names[x], x)),
    room_name = coalesce(m.names[room_name], room_name)
from (
    select map(list(value), list(pseudonym)) as names
    from forgotten_values
    where kind = 'username'
    having count(*) > 0
) as m
