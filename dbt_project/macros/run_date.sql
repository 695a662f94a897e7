{#-
    run_date(): the run's logical date (dbt var `run_date`, YYYY-MM-DD, passed by every pipeline run) as a
    date literal. Windows such as "purchases in the last 7 days" end on it, never on the wall clock, so a
    backfill or a load of years-old history gives the numbers its own date would have had.
-#}
{% macro run_date() -%}
    {%- set value = var('run_date', none) -%}
    {%- if value is none -%}
        {%- if execute -%}
            {{ exceptions.raise_compiler_error("dbt var run_date is not set: run dbt through `pwh transform` or pass --vars '{run_date: YYYY-MM-DD}'") }}
        {%- endif -%}
        {%- set value = '1970-01-01' -%}
    {%- endif -%}
    {{ dbt.cast("'" ~ value ~ "'", 'date') }}
{%- endmacro %}
