{#-
    to_utc(column): a point in time as a time-zone-free timestamp in UTC.

    Raw timestamps arrive as `timestamptz`; the warehouse stores UTC wall-clock `timestamp`s so that
    every tool reading it (pandas, BI, other engines) sees the same value whatever its session time zone.
    Dispatched: another engine adds `<adapter>__to_utc` in this project to override the default.
-#}
{% macro to_utc(column) -%}
    {{ return(adapter.dispatch('to_utc', 'pwh')(column)) }}
{%- endmacro %}

{#- SQL standard / Postgres: `timestamptz at time zone 'UTC'` is the UTC wall-clock timestamp. -#}
{% macro default__to_utc(column) -%}
    cast({{ column }} at time zone 'UTC' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{#-
    DuckDB: timezone('UTC', timestamptz) returns a plain timestamp. The inner cast makes the macro safe
    on columns that are already naive timestamps (read in the session time zone, UTC in profiles.yml).
-#}
{% macro duckdb__to_utc(column) -%}
    timezone('UTC', cast({{ column }} as timestamptz))
{%- endmacro %}

{#-
    Spark: a `timestamp` is a point in time shown in the session time zone, which profiles.yml sets to UTC,
    so the cast is all it takes (a naive timestamp is read as UTC wall-clock time, as on DuckDB).
-#}
{% macro spark__to_utc(column) -%}
    cast({{ column }} as timestamp)
{%- endmacro %}
