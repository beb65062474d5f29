-- A registrations table's new content (pipelines/ingest/registrations.py): the stored rows ($files: its
-- current file, or an empty one of its columns) whose _id did not arrive again, plus the latest
-- arrival of each _id (a later file, then a later line, wins), in _id order so the same rows give
-- the same file. Reads `arrived`: this run's documents of the collection (file_index, line_no,
-- reject_reason, then the stored columns).
with

latest as (
    select * exclude (file_index, line_no, reject_reason)
    from arrived
    where reject_reason is null
    qualify row_number() over (partition by _id order by file_index desc, line_no desc) = 1
),

kept as (
    select *
    from read_parquet($files)
    where _id not in (select _id from latest)
)

select * from kept
union all by name
select * from latest
order by _id
