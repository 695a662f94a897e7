-- One row per person: the features segment rules are written in (pwh/segments/features.py lists them
-- with their types). Windows end on the run date: `_7d` is the run date and the 6 days before it.
-- Purchases and revenue are CRM orders (not cancelled or returned); views and carts are events.

with profiles as (
    select * from {{ ref('user_profiles') }}
),

activity as (
    select * from {{ ref('int_person_activity_summarised') }}
),

orders as (
    select * from {{ ref('int_person_orders_summarised') }}
),

interests as (
    select * from {{ ref('int_person_theme_interests') }}
),

interests_by_theme as (
    select
        person_id,
        {%- for theme in var('themes') %}
        max(case when theme = '{{ theme }}' then interest_score end) as interest_{{ theme }},
        max(case when theme = '{{ theme }}' then active_days_30d end) as interest_active_days_{{ theme }}_30d{{ ',' if not loop.last }}
        {%- endfor %}
    from interests
    group by person_id
),

{%- set activity_windows = {
    'page_views': ['1d', '7d', '30d'],
    'product_views': ['1d', '7d', '30d'],
    'add_to_carts': ['1d', '7d', '30d'],
    'sessions': ['7d', '30d'],
    'active_days': ['7d', '30d'],
} %}

final as (
    select
        profiles.person_id,
        profiles.is_customer,
        profiles.email is not null as has_email,
        profiles.has_marketing_opt_in as marketing_opt_in,
        profiles.age,
        profiles.gender,
        profiles.country,
        profiles.city,
        {%- for measure, windows in activity_windows.items() %}
        {%- for window in windows %}
        {{ dbt.cast('coalesce(activity.' ~ measure ~ '_' ~ window ~ ', 0)', dbt.type_bigint()) }} as {{ measure }}_{{ window }},
        {%- endfor %}
        {%- endfor %}
        {{ dbt.cast('coalesce(orders.orders_7d, 0)', dbt.type_bigint()) }} as purchases_7d,
        {{ dbt.cast('coalesce(orders.orders_30d, 0)', dbt.type_bigint()) }} as purchases_30d,
        {{ dbt.cast('coalesce(orders.orders_90d, 0)', dbt.type_bigint()) }} as purchases_90d,
        {{ dbt.cast('coalesce(orders.orders_total, 0)', dbt.type_bigint()) }} as purchases_total,
        {{ dbt.cast('coalesce(orders.revenue_30d, 0)', 'decimal(18, 2)') }} as revenue_30d,
        {{ dbt.cast('coalesce(orders.revenue_90d, 0)', 'decimal(18, 2)') }} as revenue_90d,
        {{ dbt.cast('coalesce(orders.revenue_total, 0)', 'decimal(18, 2)') }} as revenue_total,
        profiles.average_order_value,
        -- null for someone first seen after the run date (a run for an earlier date over newer data)
        -- (day counts cast: datediff is a bigint on DuckDB, an int on Spark)
        case
            when {{ dbt.cast('profiles.first_seen_at', 'date') }} <= {{ pwh.run_date() }}
                then {{ dbt.cast(dbt.datediff(dbt.cast('profiles.first_seen_at', 'date'), pwh.run_date(), 'day'), dbt.type_bigint()) }}
        end as days_since_first_seen,
        {{ dbt.cast('activity.days_since_last_visit', dbt.type_bigint()) }} as days_since_last_visit,
        {{ dbt.cast('orders.days_since_last_order', dbt.type_bigint()) }} as days_since_last_purchase,
        -- hours from the last add-to-cart to the end of the run date
        {{ dbt.datediff('activity.last_add_to_cart_at', dbt.dateadd('day', 1, pwh.run_date()), 'hour') }}
            as hours_since_last_cart,
        coalesce(
            activity.last_add_to_cart_at is not null
            and (
                orders.last_order_at >= activity.last_add_to_cart_at
                or activity.last_purchase_event_at >= activity.last_add_to_cart_at
            ),
            false
        ) as purchased_since_last_cart,
        profiles.recency_score,
        profiles.frequency_score,
        profiles.monetary_score,
        {%- for theme in var('themes') %}
        {{ dbt.cast('coalesce(interests_by_theme.interest_' ~ theme ~ ', 0)', dbt.type_float()) }} as interest_{{ theme }},
        {{ dbt.cast('coalesce(interests_by_theme.interest_active_days_' ~ theme ~ '_30d, 0)', dbt.type_bigint()) }}
            as interest_active_days_{{ theme }}_30d{{ ',' if not loop.last }}
        {%- endfor %}
    from profiles
    left join activity
        on profiles.person_id = activity.person_id
    left join orders
        on profiles.person_id = orders.person_id
    left join interests_by_theme
        on profiles.person_id = interests_by_theme.person_id
)

select * from final
