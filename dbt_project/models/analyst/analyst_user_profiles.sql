-- One row per person: marts.user_profiles with its direct identifiers masked, for the analyst warehouse
-- (macros/masking.sql). Emails and phones become pseudonyms (the email's is the one in
-- analyst.user_identities, so the two still join); names and birth date are removed (age and age_band stay).

{{ config(alias='user_profiles', grants=pwh.analyst_grants()) }}

with profiles as (
    select * from {{ ref('user_profiles') }}
),

final as (
    select
        {{ pwh.select_masked(ref('user_profiles'), {
            'first_name': pwh.redact(dbt.type_string()),
            'last_name': pwh.redact(dbt.type_string()),
            'email': pwh.mask_email('email'),
            'phone': pwh.mask_phone('phone'),
            'birth_date': pwh.redact('date'),
        }) }}
    from profiles
)

select * from final
