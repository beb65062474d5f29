-- An ingest's incoming sessions with each forgotten user id replaced by its pseudonym, before they are
-- merged (pipelines/lake/forgetting.py): in userId, and at the head of the _id of Rocket.Chat's
-- user_daily documents (`<userId>-<year>-<month>-<day>`). Reads `incoming` and `forgotten_values`
-- (kind, value, pseudonym: the run's values that have a tombstone).
update incoming
set
    userId = f.pseudonym,
    _id = case
        when starts_with(incoming._id, f.value || '-') then f.pseudonym || substr(incoming._id, length(f.value) + 1)
        else incoming._id
    end
from forgotten_values as f
where f.kind = 'id' and incoming.userId = f.value
