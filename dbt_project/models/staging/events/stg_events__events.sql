-- One row per analytics event (raw_events.events is already unique on event_id; rejected lines are in
-- raw_events.quarantine). Times in UTC, identifiers trimmed, emails normalised, product price also in
-- the reporting currency.
--
-- The one join here is a lookup, not a model join: a left join to the fx_rates seed on its unique key
-- (tested), needed to convert product prices quoted in several currencies. It only adds a column, so
-- the grain stays the source's.

with events as (
    select * from {{ pwh.source_or_empty('events', 'events') }}
),

fx_rates as (
    select * from {{ ref('fx_rates') }}
),

conversion_rates as (
    {{ pwh.fx_to_reporting_rates('fx_rates') }}
),

renamed as (
    select
        event_id,
        lower(trim(event_type)) as event_type,
        {{ pwh.to_utc('occurred_at') }} as occurred_at,
        nullif(trim(anonymous_id), '') as anonymous_id,
        nullif(trim(user_id), '') as user_id,
        {{ pwh.normalize_email('email') }} as email,
        nullif(trim(session_id), '') as session_id,
        lower(trim(channel)) as channel,
        lower(trim(device_type)) as device_type,
        device_os,
        device_browser,
        page_url,
        page_title,
        nullif(trim(page_referrer), '') as page_referrer,
        nullif(trim(product_id), '') as product_id,
        product_price,
        upper(trim(product_currency)) as product_currency,
        product_quantity,
        nullif(trim(order_id), '') as order_id,
        properties,
        source_file,
        line_number
    from events
),

converted as (
    select
        renamed.*,
        {{ pwh.convert_amount('renamed.product_price', 'conversion_rates.rate_to_reporting') }}
            as {{ pwh.in_reporting_currency('product_price') }}
    from renamed
    left join conversion_rates
        on renamed.product_currency = conversion_rates.currency
),

final as (
    select
        event_id,
        event_type,
        occurred_at,
        {{ dbt.cast(dbt.date_trunc('day', 'occurred_at'), 'date') }} as event_date,
        anonymous_id,
        user_id,
        -- user_id is the CRM customer_id as text; null when it is not a number
        {{ dbt.safe_cast('user_id', dbt.type_bigint()) }} as customer_id,
        user_id is not null as is_logged_in,
        email,
        session_id,
        channel,
        device_type,
        device_os,
        device_browser,
        page_url,
        case when page_url is not null then {{ pwh.page_path('page_url') }} end as page_path,
        page_title,
        page_referrer,
        product_id,
        product_price,
        product_currency,
        {{ pwh.in_reporting_currency('product_price') }},
        product_quantity,
        order_id,
        properties,
        source_file,
        line_number
    from converted
)

select * from final
