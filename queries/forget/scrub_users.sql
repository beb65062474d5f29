-- An ingest's incoming accounts with each forgotten user id replaced by its pseudonym, before they are
-- merged (pipelines/lake/forgetting.py): the account of a forgotten person is stored under it.
-- Reads `incoming_users` and `forgotten_values` (kind, value, pseudonym).
update incoming_users
set _id = f.pseudonym
from forgotten_values as f
where f.kind = 'id' and incoming_users._id = f.value
