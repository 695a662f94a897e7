-- One row per person and theme they viewed themed pages of, up to the run date: interest_score = the
-- theme's share of the person's themed page views, each view weighted 0.5 ^ (days ago /
-- var interest_half_life_days), so recent reading counts most, and divided by the theme's share of
-- everyone's views, so that a theme the site has few pages on (or that only the magazine covers, while
-- the shop's thousands of product pages carry other themes) is not drowned: a person who reads like
-- the average visitor scores about the same on every theme. active_days_30d = days in the last 30 with
-- a view of the theme (segments use it for "sustained" interest).

with page_days as (
    select * from {{ ref('int_visitor_page_days_aggregated') }}
    where activity_date <= {{ pwh.run_date() }}
),

page_themes as (
    select * from {{ ref('page_themes') }}
    where theme <> 'unknown'
),

identities as (
    select * from {{ ref('stg_ml__identity_map') }}
),

themed as (
    select
        {{ pwh.person_of() }} as person_id,
        page_themes.theme,
        page_days.activity_date,
        {{ dbt.datediff('page_days.activity_date', pwh.run_date(), 'day') }} as days_ago,
        page_days.views
    from page_days
    inner join page_themes
        on page_days.page_path = page_themes.page_url
    {{ pwh.person_of_joins('page_days', 'identities') }}
),

decayed as (
    select
        person_id,
        theme,
        sum(views * power(0.5, {{ dbt.cast('days_ago', 'double') }} / {{ var('interest_half_life_days') }})) as decayed_views,
        count(distinct case when days_ago < 30 then activity_date end) as active_days_30d,
        sum(views) as views_total,
        max(activity_date) as last_viewed_date
    from themed
    where person_id is not null
    group by
        person_id,
        theme
),

normalised as (
    select
        decayed.*,
        decayed_views / sum(decayed_views) over (partition by theme) as relative_views
    from decayed
),

final as (
    select
        person_id,
        theme,
        relative_views / sum(relative_views) over (partition by person_id) as interest_score,
        {{ dbt.cast('active_days_30d', dbt.type_bigint()) }} as active_days_30d,
        {{ dbt.cast('views_total', dbt.type_bigint()) }} as views_total,
        last_viewed_date,
        row_number() over (partition by person_id order by relative_views desc, theme) as interest_rank
    from normalised
)

select * from final
