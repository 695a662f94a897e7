-- Giant-cluster alarm: fails for every person holding more identifiers of one kind than
-- var identity_max_identifiers_per_person allows (a junk value or a bad link merging many people).
{%- set caps = var('identity_max_identifiers_per_person') %}

with identities as (
    select * from {{ ref('user_identities') }}
),

counted as (
    select
        person_id,
        identifier_type,
        count(*) as identifiers
    from identities
    group by
        person_id,
        identifier_type
),

final as (
    select *
    from counted
    where
    {%- for kind, cap in caps.items() %}
        (identifier_type = '{{ kind }}' and identifiers > {{ cap }}){{ ' or' if not loop.last }}
    {%- endfor %}
)

select * from final
