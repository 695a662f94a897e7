-- One row per page (normalised path) with the theme the page-theme model gives it (ml.page_theme_scores,
-- written by models_ml/page_themes.py). Empty until that step has run once.

with page_theme_scores as (
    select * from {{ pwh.source_or_empty('ml', 'page_theme_scores') }}
),

final as (
    select
        page_url,
        page_title,
        theme,
        confidence,
        best_theme,
        second_theme,
        second_confidence,
        seed_theme,
        view_count,
        seen_in,
        themes_version,
        run_id
    from page_theme_scores
)

select * from final
