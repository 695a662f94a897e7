-- One row per person, activity date, channel and device type: sessions, views, carts, purchases,
-- revenue and active minutes. Built from the incremental int_visitor_days_aggregated with today's
-- identity map, so a merge of two people also merges their history.

with visitor_days as (
    select * from {{ ref('int_visitor_days_aggregated') }}
),

identities as (
    select * from {{ ref('stg_ml__identity_map') }}
),

resolved as (
    select
        {{ pwh.person_of() }} as person_id,
        visitor_days.*
    from visitor_days
    {{ pwh.person_of_joins('visitor_days', 'identities') }}
),

daily as (
    select
        person_id,
        activity_date,
        channel,
        device_type,
        sum(sessions) as sessions,
        sum(events) as events,
        sum(page_views) as page_views,
        sum(product_views) as product_views,
        sum(add_to_carts) as add_to_carts,
        sum(purchases) as purchases,
        sum(revenue) as revenue,
        sum(active_minutes) as active_minutes,
        min(first_event_at) as first_event_at,
        max(last_event_at) as last_event_at,
        max(last_add_to_cart_at) as last_add_to_cart_at,
        max(last_purchase_at) as last_purchase_at
    from resolved
    where person_id is not null
    group by
        person_id,
        activity_date,
        channel,
        device_type
),

final as (
    select
        person_id,
        activity_date,
        channel,
        device_type,
        {{ dbt.cast('sessions', dbt.type_bigint()) }} as sessions,
        {{ dbt.cast('events', dbt.type_bigint()) }} as events,
        {{ dbt.cast('page_views', dbt.type_bigint()) }} as page_views,
        {{ dbt.cast('product_views', dbt.type_bigint()) }} as product_views,
        {{ dbt.cast('add_to_carts', dbt.type_bigint()) }} as add_to_carts,
        {{ dbt.cast('purchases', dbt.type_bigint()) }} as purchases,
        {{ dbt.cast('revenue', 'decimal(18, 2)') }} as revenue,
        {{ dbt.cast("'" ~ pwh.reporting_currency() ~ "'", dbt.type_string()) }} as revenue_currency,
        {{ dbt.cast('active_minutes', 'decimal(18, 2)') }} as active_minutes,
        first_event_at,
        last_event_at,
        last_add_to_cart_at,
        last_purchase_at
    from daily
)

select * from final
