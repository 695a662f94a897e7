-- One row per product line of a CRM order. Amounts stay in the order's currency: the currency lives on
-- the order, and staging does not join models (int_order_items_converted has converted amounts).

with order_items as (
    select * from {{ pwh.source_or_empty('crm', 'order_items') }}
),

renamed as (
    select
        order_id,
        trim(product_id) as product_id,
        quantity,
        unit_price
    from order_items
),

final as (
    select
        {{ pwh.surrogate_key(['order_id', 'product_id']) }} as order_item_id,
        order_id,
        product_id,
        quantity,
        unit_price,
        quantity * unit_price as line_amount
    from renamed
)

select * from final
