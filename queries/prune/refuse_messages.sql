-- An ingest's messages dated on a date whose raw messages are pruned ($days): rejected, reason
-- pruned_day (room_daily keeps that date's counts, and rebuilding it from part of its messages
-- would change them). The file_index of each, for the run's counts per file.
update incoming_chat_messages
set reject_reason = 'pruned_day'
where reject_reason is null
    and date in (select unnest($days::date[]))
returning file_index
