-- One row per person size bucket (how many identifiers a person has): how identity stitching went.
-- Many people of size 1 are cookies that never logged in; a long tail of big people is a warning sign
-- (the identity tests fail beyond var identity_max_identifiers_per_person).

with identities as (
    select * from {{ ref('user_identities') }}
),

people as (
    select
        person_id,
        count(*) as identifiers,
        sum(case when identifier_type = 'customer_id' then 1 else 0 end) as customer_ids,
        sum(case when identifier_type = 'user_id' then 1 else 0 end) as user_ids,
        sum(case when identifier_type = 'email' then 1 else 0 end) as emails,
        sum(case when identifier_type = 'anonymous_id' then 1 else 0 end) as anonymous_ids,
        sum(case when is_kept_apart then 1 else 0 end) as kept_apart
    from identities
    group by person_id
),

bucketed as (
    select
        people.*,
        case
            when identifiers = 1 then '1'
            when identifiers = 2 then '2'
            when identifiers <= 5 then '3-5'
            when identifiers <= 10 then '6-10'
            when identifiers <= 50 then '11-50'
            else '51+'
        end as size_bucket,
        case
            when identifiers = 1 then 1
            when identifiers = 2 then 2
            when identifiers <= 5 then 3
            when identifiers <= 10 then 4
            when identifiers <= 50 then 5
            else 6
        end as size_bucket_order
    from people
),

final as (
    select
        size_bucket,
        size_bucket_order,
        {{ dbt.cast('count(*)', dbt.type_bigint()) }} as people,
        {{ dbt.cast('sum(identifiers)', dbt.type_bigint()) }} as identifiers,
        {{ dbt.cast('max(identifiers)', dbt.type_bigint()) }} as max_identifiers,
        {{ dbt.cast('sum(case when customer_ids + user_ids + emails = 0 then 1 else 0 end)', dbt.type_bigint()) }}
            as anonymous_only_people,
        {{ dbt.cast('sum(case when customer_ids > 0 then 1 else 0 end)', dbt.type_bigint()) }} as customer_people,
        avg(customer_ids) as avg_customer_ids,
        avg(user_ids) as avg_user_ids,
        avg(emails) as avg_emails,
        avg(anonymous_ids) as avg_anonymous_ids,
        {{ dbt.cast('sum(kept_apart)', dbt.type_bigint()) }} as identifiers_kept_apart,
        count(*) * 1.0 / sum(count(*)) over () as share_of_people
    from bucketed
    group by
        size_bucket,
        size_bucket_order
)

select * from final
