{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        **pwh.incremental_by_date('activity_date')
    )
}}

-- One row per activity date, visitor (the anonymous_id, user_id and email a session showed), channel and
-- device type: sessions, their events and active minutes. Keyed on identifiers, not people, because
-- identity stitching can merge people at any time; person_daily_activity applies today's identity map.
--
-- Incremental: each run rebuilds the dates from (latest date built - activity_lookback_days) onwards, so
-- events that arrive late (a phone that was offline) are counted on their own date.

with events as (
    select * from {{ ref('stg_events__events') }}
    {% if is_incremental() %}
    where event_date >= {{ dbt.dateadd('day', -var('activity_lookback_days'), '(select max(activity_date) from ' ~ this ~ ')') }}
    {% endif %}
),

sessions as (
    -- a session is one device's visit: its identifiers are the ones any of its events showed
    -- (logging in part way still makes the whole visit the user's); server-sent purchases count in the
    -- session of the channel the visitor used
    select
        coalesce(session_id, event_id) as session_id,
        min(event_date) as activity_date,
        max(anonymous_id) as anonymous_id,
        max(user_id) as user_id,
        max(email) as email,
        coalesce(min(case when channel <> 'server' then channel end), 'server') as channel,
        coalesce(min(case when channel <> 'server' then device_type end), 'unknown') as device_type,
        count(*) as events,
        sum(case when event_type = 'page_view' then 1 else 0 end) as page_views,
        sum(case when event_type = 'product_view' then 1 else 0 end) as product_views,
        sum(case when event_type = 'add_to_cart' then 1 else 0 end) as add_to_carts,
        count(distinct case when event_type = 'purchase' then coalesce(order_id, event_id) end) as purchases,
        sum(
            case
                when event_type = 'purchase'
                    then {{ pwh.in_reporting_currency('product_price') }} * coalesce(product_quantity, 1)
                else 0
            end
        ) as revenue,
        {{ dbt.datediff('min(occurred_at)', 'max(occurred_at)', 'second') }} / 60.0 as active_minutes,
        min(occurred_at) as first_event_at,
        max(occurred_at) as last_event_at,
        max(case when event_type = 'add_to_cart' then occurred_at end) as last_add_to_cart_at,
        max(case when event_type = 'purchase' then occurred_at end) as last_purchase_at
    from events
    group by coalesce(session_id, event_id)
),

daily as (
    select
        activity_date,
        anonymous_id,
        user_id,
        email,
        channel,
        device_type,
        count(*) as sessions,
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
    from sessions
    group by
        activity_date,
        anonymous_id,
        user_id,
        email,
        channel,
        device_type
),

final as (
    select
        activity_date,
        anonymous_id,
        user_id,
        email,
        channel,
        device_type,
        {{ dbt.cast('sessions', dbt.type_bigint()) }} as sessions,
        {{ dbt.cast('events', dbt.type_bigint()) }} as events,
        {{ dbt.cast('page_views', dbt.type_bigint()) }} as page_views,
        {{ dbt.cast('product_views', dbt.type_bigint()) }} as product_views,
        {{ dbt.cast('add_to_carts', dbt.type_bigint()) }} as add_to_carts,
        {{ dbt.cast('purchases', dbt.type_bigint()) }} as purchases,
        {{ dbt.cast('revenue', 'decimal(18, 2)') }} as revenue,
        {{ dbt.cast('active_minutes', 'decimal(18, 2)') }} as active_minutes,
        first_event_at,
        last_event_at,
        last_add_to_cart_at,
        last_purchase_at
    from daily
)

select * from final
