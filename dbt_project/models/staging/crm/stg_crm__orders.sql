-- One row per CRM order, with the total also in the reporting currency (var `reporting_currency`).
--
-- The one join here is a lookup, not a model join: a left join to the fx_rates seed on its unique key
-- (tested), needed to convert each order's total. Doing it here, next to the amount it converts, gives
-- every model downstream comparable money without repeating the conversion; it only adds a column, so
-- the grain stays the source's.

with orders as (
    select * from {{ pwh.source_or_empty('crm', 'orders') }}
),

fx_rates as (
    select * from {{ ref('fx_rates') }}
),

conversion_rates as (
    {{ pwh.fx_to_reporting_rates('fx_rates') }}
),

renamed as (
    select
        order_id,
        customer_id,
        lower(trim(status)) as status,
        upper(trim(currency)) as currency,
        total_amount,
        {{ pwh.to_utc('ordered_at') }} as ordered_at,
        {{ pwh.to_utc('updated_at') }} as updated_at
    from orders
),

converted as (
    select
        renamed.*,
        {{ pwh.convert_amount('renamed.total_amount', 'conversion_rates.rate_to_reporting') }}
            as {{ pwh.in_reporting_currency('total_amount') }}
    from renamed
    left join conversion_rates
        on renamed.currency = conversion_rates.currency
),

final as (
    select
        order_id,
        customer_id,
        status,
        status in ('cancelled', 'returned') as is_cancelled_or_returned,
        currency,
        total_amount,
        {{ pwh.in_reporting_currency('total_amount') }},
        ordered_at,
        {{ dbt.cast(dbt.date_trunc('day', 'ordered_at'), 'date') }} as order_date,
        updated_at
    from converted
)

select * from final
