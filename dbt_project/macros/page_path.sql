{#-
    page_path(url): the page key of a URL or request path, shared by the access logs, the events and page
    themes (models_ml/themes/text.py normalise_path is the same rule in Python): no "#fragment" or
    "?query", lower case, no scheme and host (absolute-form requests, full URLs), single slashes, no
    trailing slash, '/' for the home page. "https://Shop.example.com/C/Books/?x=1#top" -> "/c/books".
-#}
{% macro page_path(url) -%}
    coalesce(
        nullif(
            {{ pwh.regexp_replace_all(
                pwh.regexp_replace_all(
                    pwh.regexp_replace_all(
                        'lower(trim(' ~ dbt.split_part(dbt.split_part(url, "'#'", 1), "'?'", 1) ~ '))',
                        '^[a-z][a-z0-9+.-]*://[^/]*', ''
                    ),
                    '/{2,}', '/'
                ),
                '/+$', ''
            ) }},
            ''
        ),
        '/'
    )
{%- endmacro %}
