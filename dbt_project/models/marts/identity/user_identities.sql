-- One row per identifier (ARCHITECTURE.md): which person each customer id, user id, email and cookie
-- belongs to, and whether an over-merge guard kept it apart.

with identity_map as (
    select * from {{ ref('stg_ml__identity_map') }}
),

final as (
    select
        identifier_type,
        identifier_value,
        person_id,
        is_kept_apart,
        guard_reason,
        first_seen_at,
        last_seen_at,
        sightings
    from identity_map
)

select * from final
