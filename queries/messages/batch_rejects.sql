-- The rejected messages of one batch (lines $first..$last of file $file_index): line, reason, _id,
-- in line order. Never a message's text: the lake and its rejects files hold none.
select line_no, reject_reason, _id
from incoming_chat_messages
where file_index = $file_index and line_no between $first and $last and reject_reason is not null
order by line_no
