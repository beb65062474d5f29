-- Drop one file's messages ($file_index) from the run's incoming_chat_messages (the fast path gave up on it).
delete from incoming_chat_messages where file_index = $file_index
