-- One row per activity date (UTC) and channel: how much happened in the analytics events.
-- Revenue is what purchase events report (product price x quantity, converted into the reporting
-- currency); purchases count distinct orders (an order may send one purchase event per product).

with events as (
    select * from {{ ref('stg_events__events') }}
),

daily as (
    select
        event_date as activity_date,
        channel,
        count(*) as event_count,
        count(distinct anonymous_id) as distinct_anonymous_ids,
        count(distinct user_id) as distinct_logged_in_users,
        sum(case when event_type = 'page_view' then 1 else 0 end) as page_views,
        sum(case when event_type = 'product_view' then 1 else 0 end) as product_views,
        sum(case when event_type = 'add_to_cart' then 1 else 0 end) as add_to_carts,
        count(distinct case when event_type = 'purchase' then coalesce(order_id, event_id) end) as purchases,
        sum(
            case
                when event_type = 'purchase'
                    then {{ pwh.in_reporting_currency('product_price') }} * coalesce(product_quantity, 1)
            end
        ) as revenue
    from events
    group by
        event_date,
        channel
),

final as (
    select
        activity_date,
        channel,
        {{ dbt.cast('event_count', dbt.type_bigint()) }} as event_count,
        {{ dbt.cast('distinct_anonymous_ids', dbt.type_bigint()) }} as distinct_anonymous_ids,
        {{ dbt.cast('distinct_logged_in_users', dbt.type_bigint()) }} as distinct_logged_in_users,
        {{ dbt.cast('page_views', dbt.type_bigint()) }} as page_views,
        {{ dbt.cast('product_views', dbt.type_bigint()) }} as product_views,
        {{ dbt.cast('add_to_carts', dbt.type_bigint()) }} as add_to_carts,
        {{ dbt.cast('purchases', dbt.type_bigint()) }} as purchases,
        {{ dbt.cast('coalesce(revenue, 0)', 'decimal(18, 2)') }} as revenue,
        {{ dbt.cast("'" ~ pwh.reporting_currency() ~ "'", dbt.type_string()) }} as revenue_currency
    from daily
)

select * from final
