-- Drop one input file's documents from `incoming` ($file_index): its content is in the lake
-- already, or it is read again on the careful path.
delete from incoming
where file_index = $file_index
