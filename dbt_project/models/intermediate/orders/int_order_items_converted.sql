-- One row per product line of a CRM order, with the order's customer, time, status and currency, and the
-- line amount converted into the reporting currency (staging cannot do this: the currency is on the order).

with order_items as (
    select * from {{ ref('stg_crm__order_items') }}
),

orders as (
    select * from {{ ref('stg_crm__orders') }}
),

fx_rates as (
    select * from {{ ref('fx_rates') }}
),

conversion_rates as (
    {{ pwh.fx_to_reporting_rates('fx_rates') }}
),

items_with_orders as (
    select
        order_items.order_item_id,
        order_items.order_id,
        orders.customer_id,
        order_items.product_id,
        orders.ordered_at,
        orders.order_date,
        orders.status,
        orders.is_cancelled_or_returned,
        order_items.quantity,
        orders.currency,
        order_items.unit_price,
        order_items.line_amount
    from order_items
    inner join orders
        on order_items.order_id = orders.order_id
),

final as (
    select
        items_with_orders.*,
        {{ pwh.convert_amount('items_with_orders.unit_price', 'conversion_rates.rate_to_reporting') }}
            as {{ pwh.in_reporting_currency('unit_price') }},
        {{ pwh.convert_amount('items_with_orders.line_amount', 'conversion_rates.rate_to_reporting') }}
            as {{ pwh.in_reporting_currency('line_amount') }}
    from items_with_orders
    left join conversion_rates
        on items_with_orders.currency = conversion_rates.currency
)

select * from final
