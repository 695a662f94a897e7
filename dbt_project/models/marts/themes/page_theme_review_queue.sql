-- One row per page nobody could theme: the model was not confident enough and no manual rule covers it.
-- Most viewed first (review_rank 1); the model's best guesses help the reviewer, who then adds a rule
-- to seeds/page_theme_rules.csv or a seed word to models_ml/themes/themes.yml.

with page_themes as (
    select * from {{ ref('page_themes') }}
),

page_theme_scores as (
    select * from {{ ref('stg_ml__page_theme_scores') }}
),

unknown_pages as (
    select
        page_themes.page_url,
        page_themes.page_title,
        page_themes.view_count,
        page_theme_scores.best_theme,
        page_theme_scores.confidence as best_confidence,
        page_theme_scores.second_theme,
        page_theme_scores.second_confidence
    from page_themes
    inner join page_theme_scores
        on page_themes.page_url = page_theme_scores.page_url
    where page_themes.theme = 'unknown'
        and page_themes.method = 'model'
),

final as (
    select
        {{ dbt.cast('row_number() over (order by view_count desc, page_url)', dbt.type_bigint()) }} as review_rank,
        page_url,
        page_title,
        view_count,
        best_theme,
        best_confidence,
        second_theme,
        second_confidence
    from unknown_pages
)

select * from final
