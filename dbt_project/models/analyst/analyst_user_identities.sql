-- One row per identifier: marts.user_identities with email addresses replaced by their pseudonym (the
-- same as analyst.user_profiles.email). Customer ids, user ids and cookies are pwh's and the sources'
-- own ids, not direct identifiers, and stay as they are.

{{ config(alias='user_identities', grants=pwh.analyst_grants()) }}

with identities as (
    select * from {{ ref('user_identities') }}
),

final as (
    select
        {{ pwh.select_masked(ref('user_identities'), {
            'identifier_value':
                "case when identifier_type = 'email' then " ~ pwh.mask_email('identifier_value')
                ~ " else identifier_value end",
        }) }}
    from identities
)

select * from final
