-- The newest version of each document read in this run: latest _updatedAt wins, and on a tie
-- (or with no _updatedAt at all) the one read last: from the later file, then the later line.
-- (A file with an _id twice is read line by line, so line_no is known wherever it matters.)
-- Reads `incoming` (staging/documents.sql's rows of every file of the run).
with

ranked as (
    select
        *,
        row_number() over (
            partition by _id
            order by _updatedAt desc nulls last, file_index desc, line_no desc nulls last
        ) as version_rank
    from incoming
    where reject_reason is null
),

final as (
    select * exclude (version_rank)
    from ranked
    where version_rank = 1
)

select * from final
