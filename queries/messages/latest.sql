-- The run's stored messages (incoming_chat_messages, from messages/documents.sql) by date, then _id,
-- as the partitions keep them, each _id's versions latest first: a later file, then a later line
-- (ties, which only the fast path's unnumbered lines can have, by the row itself, so a rerun picks
-- the same one). pipelines/ingest/messages.py keeps the first of each date and _id.
select date, _id, rid, ts, t, sender
from incoming_chat_messages
where reject_reason is null
order by date, _id, file_index desc, line_no desc nulls last, rid, ts, t, sender
