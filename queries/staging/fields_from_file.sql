-- The stored fields of each document of one export file ($path), read by DuckDB's own parallel JSON
-- reader ($format: newline_delimited or array). The fast path: a malformed line comes out as
-- a document with no fields (no _id), and the caller then reads the file again line by line
-- to report it with its line number (here line_no is unknown). Rows come out in file order.
select
    null::bigint as line_no,
    false as bad_utf8,
    true as is_json,
    true as is_object,
    null::varchar as known_reason,
    -- the whole row (every column of $columns) as one struct
    document as f
from read_json(
    $path,
    format = $format,
    compression = $compression,
    ignore_errors = true,
    -- each stored field as its JSON text (pipelines/fields.py: JSON_COLUMNS)
    columns = $columns
) as document
