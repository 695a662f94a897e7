-- One row per person with activity: lifetime totals and windows ending on the run date (a 7-day window
-- is the run date and the 6 days before it), the last cart and purchase seen in the events, and the
-- channel and device type of most of their sessions.

with daily as (
    select * from {{ ref('person_daily_activity') }}
    where activity_date <= {{ pwh.run_date() }}
),

dated as (
    select
        daily.*,
        {{ dbt.datediff('activity_date', pwh.run_date(), 'day') }} as days_ago
    from daily
),

{%- set windowed = ['page_views', 'product_views', 'add_to_carts', 'sessions'] %}

summarised as (
    select
        person_id,
        min(first_event_at) as first_active_at,
        max(last_event_at) as last_active_at,
        min(days_ago) as days_since_last_visit,
        max(days_ago) as days_since_first_visit,
        count(distinct activity_date) as active_days_total,
        count(distinct case when days_ago < 7 then activity_date end) as active_days_7d,
        count(distinct case when days_ago < 30 then activity_date end) as active_days_30d,
        {%- for measure in windowed %}
        sum({{ measure }}) as {{ measure }}_total,
        sum(case when days_ago < 1 then {{ measure }} else 0 end) as {{ measure }}_1d,
        sum(case when days_ago < 7 then {{ measure }} else 0 end) as {{ measure }}_7d,
        sum(case when days_ago < 30 then {{ measure }} else 0 end) as {{ measure }}_30d,
        {%- endfor %}
        sum(active_minutes) as active_minutes_total,
        sum(purchases) as purchase_sessions_total,
        max(last_add_to_cart_at) as last_add_to_cart_at,
        max(last_purchase_at) as last_purchase_event_at
    from dated
    group by person_id
),

{%- for dimension in ['channel', 'device_type'] %}

{{ dimension }}_ranked as (
    select
        person_id,
        {{ dimension }},
        row_number() over (partition by person_id order by sum(sessions) desc, {{ dimension }}) as preference_rank
    from dated
    group by
        person_id,
        {{ dimension }}
),
{%- endfor %}

final as (
    select
        summarised.*,
        channel_ranked.channel as preferred_channel,
        device_type_ranked.device_type as preferred_device_type
    from summarised
    left join channel_ranked
        on summarised.person_id = channel_ranked.person_id
        and channel_ranked.preference_rank = 1
    left join device_type_ranked
        on summarised.person_id = device_type_ranked.person_id
        and device_type_ranked.preference_rank = 1
)

select * from final
