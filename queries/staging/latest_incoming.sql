-- The newest version of each document read in this run: latest _updatedAt wins, and on a tie
-- (or with no _updatedAt at all) the one read last. `incoming` is filled in file order, then line
-- order, so its rowid is the order of arrival.
with

ranked as (
    select
        *,
        row_number() over (
            partition by _id
            order by _updatedAt desc nulls last, rowid desc
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
