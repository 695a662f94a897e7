-- One row per identifier with the person identity stitching put it in (ml.identity_map).

with identity_map as (
    select * from {{ pwh.source_or_empty('ml', 'identity_map') }}
),

final as (
    select
        identifier_type,
        identifier_value,
        person_id,
        guard_reason,
        guard_reason is not null as is_kept_apart,
        first_seen_at,
        last_seen_at,
        sightings,
        run_id
    from identity_map
)

select * from final
