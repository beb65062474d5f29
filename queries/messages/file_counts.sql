-- One file's ($file_index) messages in incoming_chat_messages: read, and rejected.
select count(*) as read, count(reject_reason) as rejected
from incoming_chat_messages
where file_index = $file_index
