{#-
    incremental_by_date(date_column): the incremental config of a model whose runs rebuild whole dates
    (the activity models rebuild the dates from the latest built one minus a lookback). Use it as
    `config(materialized='incremental', **pwh.incremental_by_date('activity_date'))`.
    Dispatched because the engines spell "replace these dates" differently.
-#}
{% macro incremental_by_date(date_column) -%}
    {{ return(adapter.dispatch('incremental_by_date', 'pwh')(date_column)) }}
{%- endmacro %}

{#- DuckDB and most warehouses: delete the rebuilt dates' rows, insert the new ones. -#}
{% macro default__incremental_by_date(date_column) -%}
    {{ return({'incremental_strategy': 'delete+insert', 'unique_key': date_column}) }}
{%- endmacro %}

{#-
    Spark on plain Parquet has no delete (merge needs Delta or Iceberg): the table is partitioned by date
    and each run overwrites the partitions of the dates it rebuilt (dynamic partition overwrite).
-#}
{% macro spark__incremental_by_date(date_column) -%}
    {{ return({'incremental_strategy': 'insert_overwrite', 'partition_by': [date_column]}) }}
{%- endmacro %}
