{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        **pwh.incremental_by_date('activity_date')
    )
}}

-- One row per activity date, visitor (anonymous_id, user_id, email) and page (page_path): how often
-- they viewed it, from the analytics events (page and product views) and the access logs (successful
-- page requests by people, not bots or static files). Interest themes are built on it. Incremental like
-- int_visitor_days_aggregated: each run rebuilds the last var activity_lookback_days dates.

{%- set since = dbt.dateadd('day', -var('activity_lookback_days'), '(select max(activity_date) from ' ~ this ~ ')') %}

with events as (
    select * from {{ ref('stg_events__events') }}
    where event_type in ('page_view', 'product_view')
        and page_path is not null
    {% if is_incremental() %}
        and event_date >= {{ since }}
    {% endif %}
),

page_visits as (
    select * from {{ ref('stg_logs__page_visits') }}
    where is_successful
        and not is_bot
        and not is_static_asset
        and anonymous_id is not null
    {% if is_incremental() %}
        and visit_date >= {{ since }}
    {% endif %}
),

views as (
    select
        event_date as activity_date,
        anonymous_id,
        user_id,
        email,
        page_path
    from events

    union all

    select
        visit_date as activity_date,
        anonymous_id,
        {{ dbt.cast('null', dbt.type_string()) }} as user_id,
        {{ dbt.cast('null', dbt.type_string()) }} as email,
        page_path
    from page_visits
),

final as (
    select
        activity_date,
        anonymous_id,
        user_id,
        email,
        page_path,
        {{ dbt.cast('count(*)', dbt.type_bigint()) }} as views
    from views
    group by
        activity_date,
        anonymous_id,
        user_id,
        email,
        page_path
)

select * from final
