-- One row per identifier value that matches the seed identity_blocklist (compared in lower case, SQL
-- `like` patterns): the values stitching ignores, with why and how often each was seen.

with customers as (
    select * from {{ ref('stg_crm__customers') }}
),

events as (
    select * from {{ ref('stg_events__events') }}
),

page_visits as (
    select * from {{ ref('stg_logs__page_visits') }}
),

blocklist as (
    select * from {{ ref('identity_blocklist') }}
),

identifiers as (
    select 'customer_id' as identifier_type, {{ dbt.cast('customer_id', dbt.type_string()) }} as identifier_value from customers
    union all
    select 'email' as identifier_type, email as identifier_value from customers
    union all
    select 'user_id' as identifier_type, user_id as identifier_value from events
    union all
    select 'email' as identifier_type, email as identifier_value from events
    union all
    select 'anonymous_id' as identifier_type, anonymous_id as identifier_value from events
    union all
    select 'anonymous_id' as identifier_type, anonymous_id as identifier_value from page_visits
),

distinct_identifiers as (
    select
        identifier_type,
        identifier_value,
        count(*) as sightings
    from identifiers
    where identifier_value is not null
    group by
        identifier_type,
        identifier_value
),

matched as (
    select
        distinct_identifiers.identifier_type,
        distinct_identifiers.identifier_value,
        distinct_identifiers.sightings,
        blocklist.pattern,
        blocklist.reason,
        row_number() over (
            partition by distinct_identifiers.identifier_type, distinct_identifiers.identifier_value
            order by blocklist.identifier_type desc, blocklist.pattern
        ) as match_rank
    from distinct_identifiers
    inner join blocklist
        on blocklist.identifier_type in ('*', distinct_identifiers.identifier_type)
        and lower(distinct_identifiers.identifier_value) like lower(coalesce(blocklist.pattern, ''))
),

final as (
    select
        identifier_type,
        identifier_value,
        pattern as matched_pattern,
        reason,
        {{ dbt.cast('sightings', dbt.type_bigint()) }} as sightings
    from matched
    where match_rank = 1
)

select * from final
