-- An ingest's incoming messages with each forgotten sender's id replaced by its pseudonym, before they
-- are merged (pipelines/lake/forgetting.py). Reads `incoming_chat_messages` and `forgotten_values`
-- (kind, value, pseudonym).
update incoming_chat_messages
set sender = f.pseudonym
from forgotten_values as f
where f.kind = 'id' and incoming_chat_messages.sender = f.value
