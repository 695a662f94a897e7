-- One row per person (ARCHITECTURE.md): CRM attributes of their best record, behaviour from the events
-- and orders up to the run date, RFM scores, favourites and interest themes. Every column is defined in
-- _profiles__models.yml.

with people as (
    select * from {{ ref('int_people_collected') }}
),

activity as (
    select * from {{ ref('int_person_activity_summarised') }}
),

orders as (
    select * from {{ ref('int_person_orders_summarised') }}
),

favourites as (
    select * from {{ ref('int_person_products_ranked') }}
    where preference_rank <= 3
),

favourite_lists as (
    select
        person_id,
        {{ dbt.listagg("case when attribute = 'category' then attribute_value end", "', '", 'order by preference_rank') }}
            as favourite_categories,
        {{ dbt.listagg("case when attribute = 'brand' then attribute_value end", "', '", 'order by preference_rank') }}
            as favourite_brands
    from favourites
    group by person_id
),

interests as (
    select * from {{ ref('int_person_theme_interests') }}
    where interest_rank <= 3
),

top_interests as (
    select
        person_id,
        max(case when interest_rank = 1 then theme end) as top_theme,
        max(case when interest_rank = 1 then interest_score end) as top_theme_score,
        {{ dbt.listagg(dbt.concat(['theme', "':'", dbt.cast('round(interest_score, 2)', 'decimal(4, 2)')]), "', '", 'order by interest_rank') }}
            as top_themes
    from interests
    group by person_id
),

rfm as (
    -- quintiles among buyers: 5 = most recent, most orders, most revenue
    select
        person_id,
        ntile(5) over (order by last_order_at) as recency_score,
        ntile(5) over (order by orders_total, revenue_total) as frequency_score,
        ntile(5) over (order by revenue_total) as monetary_score
    from orders
),

final as (
    select
        people.person_id,
        people.main_customer_id is not null as is_customer,
        {{ dbt.cast('people.customer_records', dbt.type_bigint()) }} as customer_records,
        people.main_customer_id,
        people.first_name,
        people.last_name,
        people.email,
        people.phone,
        people.gender,
        people.birth_date,
        -- whole years, as age_band counts them: floor() first, because a cast of a double to an integer
        -- rounds on DuckDB and truncates on Spark
        {{ dbt.cast('floor(' ~ dbt.datediff('people.birth_date', pwh.run_date(), 'day') ~ ' / 365.25)', dbt.type_int()) }} as age,
        case
            when people.birth_date is null then null
            when {{ dbt.datediff('people.birth_date', pwh.run_date(), 'day') }} < 25 * 365.25 then '18-24'
            when {{ dbt.datediff('people.birth_date', pwh.run_date(), 'day') }} < 35 * 365.25 then '25-34'
            when {{ dbt.datediff('people.birth_date', pwh.run_date(), 'day') }} < 45 * 365.25 then '35-44'
            when {{ dbt.datediff('people.birth_date', pwh.run_date(), 'day') }} < 55 * 365.25 then '45-54'
            when {{ dbt.datediff('people.birth_date', pwh.run_date(), 'day') }} < 65 * 365.25 then '55-64'
            else '65+'
        end as age_band,
        people.city,
        people.country,
        people.has_marketing_opt_in,
        {{ dbt.cast('people.emails', dbt.type_bigint()) }} as emails,
        {{ dbt.cast('people.devices', dbt.type_bigint()) }} as devices,
        people.first_seen_at,
        people.last_seen_at,
        activity.last_active_at,
        {{ dbt.cast('activity.days_since_last_visit', dbt.type_int()) }} as days_since_last_visit,
        {{ dbt.cast('coalesce(activity.active_days_total, 0)', dbt.type_bigint()) }} as active_days_total,
        {{ dbt.cast('coalesce(activity.sessions_total, 0)', dbt.type_bigint()) }} as sessions_total,
        {{ dbt.cast('coalesce(activity.page_views_total, 0)', dbt.type_bigint()) }} as page_views_total,
        {{ dbt.cast('coalesce(activity.product_views_total, 0)', dbt.type_bigint()) }} as product_views_total,
        {{ dbt.cast('coalesce(activity.add_to_carts_total, 0)', dbt.type_bigint()) }} as add_to_carts_total,
        {{ dbt.cast('coalesce(activity.active_minutes_total, 0)', 'decimal(18, 2)') }} as active_minutes_total,
        {{ dbt.cast('coalesce(orders.orders_total, 0)', dbt.type_bigint()) }} as orders_total,
        {{ dbt.cast('coalesce(orders.revenue_total, 0)', 'decimal(18, 2)') }} as revenue_total,
        {{ dbt.cast("'" ~ pwh.reporting_currency() ~ "'", dbt.type_string()) }} as revenue_currency,
        {{ dbt.cast('orders.revenue_total / orders.orders_total', 'decimal(18, 2)') }} as average_order_value,
        orders.first_order_at,
        orders.last_order_at,
        {{ dbt.cast('orders.days_since_last_order', dbt.type_int()) }} as days_since_last_order,
        {{ dbt.cast('rfm.recency_score', dbt.type_int()) }} as recency_score,
        {{ dbt.cast('rfm.frequency_score', dbt.type_int()) }} as frequency_score,
        {{ dbt.cast('rfm.monetary_score', dbt.type_int()) }} as monetary_score,
        {{ dbt.concat(['rfm.recency_score', 'rfm.frequency_score', 'rfm.monetary_score']) }} as rfm_cell,
        favourite_lists.favourite_categories,
        favourite_lists.favourite_brands,
        activity.preferred_channel,
        activity.preferred_device_type,
        {{ dbt.cast('orders.favourite_order_hour_utc', dbt.type_int()) }} as favourite_order_hour_utc,
        top_interests.top_theme,
        {{ dbt.cast('top_interests.top_theme_score', dbt.type_float()) }} as top_theme_score,
        top_interests.top_themes
    from people
    left join activity
        on people.person_id = activity.person_id
    left join orders
        on people.person_id = orders.person_id
    left join rfm
        on people.person_id = rfm.person_id
    left join favourite_lists
        on people.person_id = favourite_lists.person_id
    left join top_interests
        on people.person_id = top_interests.person_id
)

select * from final
