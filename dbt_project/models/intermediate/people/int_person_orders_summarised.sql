-- One row per person who placed a CRM order: how many orders and how much revenue (reporting
-- currency, cancelled and returned orders excluded), overall and in windows ending on the run date,
-- and the UTC hour they order at most.

with orders as (
    select * from {{ ref('stg_crm__orders') }}
),

identities as (
    select * from {{ ref('stg_ml__identity_map') }}
),

person_orders as (
    select
        identities.person_id,
        orders.order_id,
        orders.ordered_at,
        orders.order_date,
        orders.{{ pwh.in_reporting_currency('total_amount') }} as amount,
        {{ dbt.datediff('orders.order_date', pwh.run_date(), 'day') }} as days_ago
    from orders
    inner join identities
        on identities.identifier_type = 'customer_id'
        and identities.identifier_value = {{ dbt.cast('orders.customer_id', dbt.type_string()) }}
    where not orders.is_cancelled_or_returned
        and orders.order_date <= {{ pwh.run_date() }}
),

hours as (
    select
        person_id,
        extract(hour from ordered_at) as order_hour,
        count(*) as orders
    from person_orders
    group by
        person_id,
        extract(hour from ordered_at)
),

favourite_hours as (
    select
        person_id,
        order_hour,
        row_number() over (partition by person_id order by orders desc, order_hour) as hour_rank
    from hours
),

summarised as (
    select
        person_id,
        count(*) as orders_total,
        sum(case when days_ago < 7 then 1 else 0 end) as orders_7d,
        sum(case when days_ago < 30 then 1 else 0 end) as orders_30d,
        sum(case when days_ago < 90 then 1 else 0 end) as orders_90d,
        sum(amount) as revenue_total,
        sum(case when days_ago < 30 then amount else 0 end) as revenue_30d,
        sum(case when days_ago < 90 then amount else 0 end) as revenue_90d,
        min(ordered_at) as first_order_at,
        max(ordered_at) as last_order_at,
        min(days_ago) as days_since_last_order
    from person_orders
    group by person_id
),

final as (
    select
        summarised.*,
        favourite_hours.order_hour as favourite_order_hour_utc
    from summarised
    left join favourite_hours
        on summarised.person_id = favourite_hours.person_id
        and favourite_hours.hour_rank = 1
)

select * from final
