{#-
    Regular expressions have no dbt cross-database macro, so these two small dispatched macros hide the
    engine's spelling. `pattern` is a plain (RE2/POSIX-style) pattern; quotes in it are escaped here.
-#}

{#- regexp_like(expression, pattern): true when `pattern` matches somewhere in `expression` (anchor it with ^...$ for a full match). -#}
{% macro regexp_like(expression, pattern) -%}
    {{ return(adapter.dispatch('regexp_like', 'pwh')(expression, pattern)) }}
{%- endmacro %}

{% macro default__regexp_like(expression, pattern) -%}
    regexp_like({{ expression }}, '{{ dbt.escape_single_quotes(pattern) }}')
{%- endmacro %}

{% macro duckdb__regexp_like(expression, pattern) -%}
    regexp_matches({{ expression }}, '{{ dbt.escape_single_quotes(pattern) }}')
{%- endmacro %}

{% macro postgres__regexp_like(expression, pattern) -%}
    ({{ expression }} ~ '{{ dbt.escape_single_quotes(pattern) }}')
{%- endmacro %}

{% macro spark__regexp_like(expression, pattern) -%}
    ({{ expression }} rlike {{ pwh.spark_string_literal(pattern) }})
{%- endmacro %}

{#- regexp_replace_all(expression, pattern, replacement): replace every match of `pattern`. -#}
{% macro regexp_replace_all(expression, pattern, replacement) -%}
    {{ return(adapter.dispatch('regexp_replace_all', 'pwh')(expression, pattern, replacement)) }}
{%- endmacro %}

{#- Snowflake, BigQuery, Redshift: regexp_replace replaces every match by default. -#}
{% macro default__regexp_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, '{{ dbt.escape_single_quotes(pattern) }}', '{{ dbt.escape_single_quotes(replacement) }}')
{%- endmacro %}

{% macro duckdb__regexp_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, '{{ dbt.escape_single_quotes(pattern) }}', '{{ dbt.escape_single_quotes(replacement) }}', 'g')
{%- endmacro %}

{% macro postgres__regexp_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, '{{ dbt.escape_single_quotes(pattern) }}', '{{ dbt.escape_single_quotes(replacement) }}', 'g')
{%- endmacro %}

{#- Spark (Java regular expressions): regexp_replace replaces every match. -#}
{% macro spark__regexp_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, {{ pwh.spark_string_literal(pattern) }}, {{ pwh.spark_string_literal(replacement) }})
{%- endmacro %}

{#-
    spark_string_literal(text): `text` as a Spark SQL string literal. Spark reads backslash escapes in
    literals ('\s' is "s"), so backslashes are doubled before quotes are escaped.
-#}
{% macro spark_string_literal(text) -%}
    '{{ dbt.escape_single_quotes(text | replace('\\', '\\\\')) }}'
{%- endmacro %}
