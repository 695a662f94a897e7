{#-
    dbt's default safe_cast is a plain cast on DuckDB (dbt-duckdb does not override it), which fails the
    whole model on one bad value. dbt looks in the root project first when dispatching, so this makes
    dbt.safe_cast return null instead, as it does on Snowflake and BigQuery.
-#}
{% macro duckdb__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}
