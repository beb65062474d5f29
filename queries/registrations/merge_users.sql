-- The lake's new users table: the stored accounts ($files: the current file, or an empty one)
-- whose _id did not arrive again, plus the latest arrival of each _id (a later file, then a later
-- line, wins), in _id order so the same rows give the same file.
with

latest as (
    select _id, createdAt, anonymous
    from incoming_users
    where reject_reason is null
    qualify row_number() over (partition by _id order by file_index desc, line_no desc) = 1
),

kept as (
    select _id, createdAt, anonymous
    from read_parquet($files)
    where _id not in (select _id from latest)
)

select * from kept
union all
select * from latest
order by _id
