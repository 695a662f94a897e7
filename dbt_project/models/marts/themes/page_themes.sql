-- One row per page (normalised path) with its theme: a manual rule's when one matches the page
-- (seeds/page_theme_rules.csv, highest priority first), otherwise the page-theme model's, which is
-- 'unknown' when the model is not confident enough. `method` says which decided.

with page_theme_scores as (
    select * from {{ ref('stg_ml__page_theme_scores') }}
),

page_theme_rules as (
    select * from {{ ref('page_theme_rules') }}
),

rule_matches as (
    select
        page_theme_scores.page_url,
        page_theme_rules.url_pattern,
        page_theme_rules.theme,
        row_number() over (
            partition by page_theme_scores.page_url
            order by page_theme_rules.priority desc, page_theme_rules.url_pattern
        ) as match_rank
    from page_theme_scores
    inner join page_theme_rules
        on page_theme_scores.page_url like page_theme_rules.url_pattern
),

winning_rules as (
    select
        page_url,
        url_pattern,
        theme
    from rule_matches
    where match_rank = 1
),

final as (
    select
        page_theme_scores.page_url,
        page_theme_scores.page_title,
        coalesce(winning_rules.theme, page_theme_scores.theme) as theme,
        -- a rule is a person's decision: full confidence
        {{ dbt.cast(
            'case when winning_rules.page_url is not null then 1.0 else page_theme_scores.confidence end',
            'double precision'
        ) }} as confidence,
        case when winning_rules.page_url is not null then 'manual_rule' else 'model' end as method,
        winning_rules.url_pattern as rule_pattern,
        page_theme_scores.theme as model_theme,
        page_theme_scores.confidence as model_confidence,
        page_theme_scores.view_count,
        page_theme_scores.themes_version,
        page_theme_scores.run_id
    from page_theme_scores
    left join winning_rules
        on page_theme_scores.page_url = winning_rules.page_url
)

select * from final
