-- Every rejected document of the lake's rejects files ($files: rejects/*.jsonl), as written at
-- ingest: the input file, its line (or a dump's document number), the reason, the text (cut at
-- 100,000 characters), a BSON document's byte offset, and the server-local date the document
-- names when it names one; rejects_file is the lake's file that holds it.
select
    * exclude (filename),
    filename as rejects_file
from read_json(
    $files,
    format = 'newline_delimited',
    columns = {
        'file': 'VARCHAR', 'line': 'BIGINT', 'reason': 'VARCHAR', 'text': 'VARCHAR',
        'offset': 'BIGINT', 'date': 'DATE'
    },
    filename = true
)
