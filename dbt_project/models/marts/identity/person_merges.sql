-- One row per person id that no longer exists because its person merged into another: follow
-- merged_into_person_id (again, if that one merged later) to the person's current id.

with person_merges as (
    select * from {{ ref('stg_ml__person_merges') }}
),

final as (
    select
        person_id,
        merged_into_person_id,
        identifiers_moved,
        run_id,
        run_date as merged_on
    from person_merges
)

select * from final
