-- One file's ($file_index) messages in incoming_chat_messages: read, rejected, and how many rows
-- repeat an _id (then only the careful path, which numbers lines, knows which version is the later).
select
    count(*) as read,
    count(reject_reason) as rejected,
    count(_id) - count(distinct _id) as repeated
from incoming_chat_messages
where file_index = $file_index
