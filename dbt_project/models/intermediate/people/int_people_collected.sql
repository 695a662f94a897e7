-- One row per person in the identity map: what identifiers they have, when they were first and last
-- seen by any source, and their best CRM record (not deleted, most recently updated) for attributes.

with identities as (
    select * from {{ ref('stg_ml__identity_map') }}
),

customers as (
    select * from {{ ref('stg_crm__customers') }}
),

people as (
    select
        person_id,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        sum(case when identifier_type = 'customer_id' then 1 else 0 end) as customer_records,
        sum(case when identifier_type = 'email' then 1 else 0 end) as emails,
        sum(case when identifier_type = 'anonymous_id' then 1 else 0 end) as devices,
        min(case when identifier_type = 'email' then identifier_value end) as any_email
    from identities
    group by person_id
),

records as (
    select
        identities.person_id,
        customers.*,
        row_number() over (
            partition by identities.person_id
            order by customers.is_deleted, customers.updated_at desc, customers.customer_id desc
        ) as record_rank
    from customers
    inner join identities
        on identities.identifier_type = 'customer_id'
        and identities.identifier_value = {{ dbt.cast('customers.customer_id', dbt.type_string()) }}
),

final as (
    select
        people.person_id,
        people.first_seen_at,
        people.last_seen_at,
        people.customer_records,
        people.emails,
        people.devices,
        records.customer_id as main_customer_id,
        records.first_name,
        records.last_name,
        coalesce(records.email, people.any_email) as email,
        records.phone,
        records.gender,
        records.birth_date,
        records.city,
        records.country,
        coalesce(records.has_marketing_opt_in and not records.is_deleted, false) as has_marketing_opt_in
    from people
    left join records
        on people.person_id = records.person_id
        and records.record_rank = 1
)

select * from final
