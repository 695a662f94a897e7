-- One row per source and combination of identifiers seen together (a CRM record; a distinct
-- (user_id, email, anonymous_id) of the analytics events; a log cookie), with when and how often it was
-- seen. Identity stitching (models_ml/identities.py) turns these co-occurrences into the identity graph.
--
-- Junk values (seed identity_blocklist: test addresses, 'unknown', null-like strings) are removed here,
-- so they never link anyone; int_identifiers_blocked lists what was removed.

with customers as (
    select * from {{ ref('stg_crm__customers') }}
),

events as (
    select * from {{ ref('stg_events__events') }}
),

page_visits as (
    select * from {{ ref('stg_logs__page_visits') }}
),

blocked as (
    select * from {{ ref('int_identifiers_blocked') }}
),

sightings as (
    select
        'crm' as source,
        {{ dbt.cast('customer_id', dbt.type_string()) }} as customer_id,
        {{ dbt.cast('null', dbt.type_string()) }} as user_id,
        email,
        {{ dbt.cast('null', dbt.type_string()) }} as anonymous_id,
        created_at as first_seen_at,
        coalesce(updated_at, created_at) as last_seen_at,
        1 as sightings
    from customers

    union all

    select
        'events' as source,
        {{ dbt.cast('null', dbt.type_string()) }} as customer_id,
        user_id,
        email,
        anonymous_id,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at,
        count(*) as sightings
    from events
    group by
        user_id,
        email,
        anonymous_id

    union all

    -- crawlers send cookies too, but they are no one's identity
    select
        'logs' as source,
        {{ dbt.cast('null', dbt.type_string()) }} as customer_id,
        {{ dbt.cast('null', dbt.type_string()) }} as user_id,
        {{ dbt.cast('null', dbt.type_string()) }} as email,
        anonymous_id,
        min(visited_at) as first_seen_at,
        max(visited_at) as last_seen_at,
        count(*) as sightings
    from page_visits
    where not is_bot
    group by anonymous_id
),

cleaned as (
    select
        sightings.source,
        case when blocked_customer_ids.identifier_value is null then sightings.customer_id end as customer_id,
        case when blocked_user_ids.identifier_value is null then sightings.user_id end as user_id,
        case when blocked_emails.identifier_value is null then sightings.email end as email,
        case when blocked_anonymous_ids.identifier_value is null then sightings.anonymous_id end as anonymous_id,
        sightings.first_seen_at,
        sightings.last_seen_at,
        sightings.sightings
    from sightings
    left join blocked as blocked_customer_ids
        on blocked_customer_ids.identifier_type = 'customer_id'
        and sightings.customer_id = blocked_customer_ids.identifier_value
    left join blocked as blocked_user_ids
        on blocked_user_ids.identifier_type = 'user_id'
        and sightings.user_id = blocked_user_ids.identifier_value
    left join blocked as blocked_emails
        on blocked_emails.identifier_type = 'email'
        and sightings.email = blocked_emails.identifier_value
    left join blocked as blocked_anonymous_ids
        on blocked_anonymous_ids.identifier_type = 'anonymous_id'
        and sightings.anonymous_id = blocked_anonymous_ids.identifier_value
),

final as (
    select
        source,
        customer_id,
        user_id,
        email,
        anonymous_id,
        first_seen_at,
        last_seen_at,
        {{ dbt.cast('sightings', dbt.type_bigint()) }} as sightings
    from cleaned
    where coalesce(customer_id, user_id, email, anonymous_id) is not null
)

select * from final
