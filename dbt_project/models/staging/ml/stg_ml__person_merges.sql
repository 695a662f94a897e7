-- One row per person id that merged into another person (ml.person_merges, appended by each run).

with person_merges as (
    select * from {{ pwh.source_or_empty('ml', 'person_merges') }}
),

final as (
    select
        person_id,
        merged_into_person_id,
        identifiers_moved,
        run_id,
        run_date
    from person_merges
)

select * from final
