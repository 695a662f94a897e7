{#-
    A landing zone may hold only some sources (a CRM and no logs yet, say): ingestion then creates no raw
    table for the others, and a staging view over a missing table would fail the whole build. Staging
    models import their source through these macros so that a missing source reads as no rows.
    (Unit tests give source inputs as `format: sql` for the same reason: dbt types dict fixture rows by
    reading the raw table, and ignores the data_type declared in YAML.)
-#}

{#-
    source_or_empty(source_name, table_name): what to select from in a staging model's import CTE
    (`select * from {{ pwh.source_or_empty('crm', 'customers') }}`). It calls source(), so lineage and docs
    keep the dependency, and returns that relation when it exists in the warehouse; when it does not, an
    empty select with the columns and data types declared for the table in `_<source>__sources.yml`.
    Views are bound when they are built: rebuild staging after a source delivers for the first time
    (every pipeline run does). In unit tests source() is the test's fixture CTE and is returned as is.
-#}
{% macro source_or_empty(source_name, table_name) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- if not execute or relation.is_cte -%}
        {{ return(relation) }}
    {%- endif -%}
    {#- checked even when the table exists, so that a column without data_type is caught on a full warehouse -#}
    {%- set columns = pwh.source_column_types(source_name, table_name) -%}
    {%- if adapter.get_relation(database=relation.database, schema=relation.schema, identifier=relation.identifier) is not none -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set selected = [] -%}
    {%- for name, data_type in columns.items() -%}
        {%- do selected.append((dbt.cast('null', data_type) | trim) ~ ' as ' ~ name) -%}
    {%- endfor -%}
    {%- do log("source " ~ source_name ~ "." ~ table_name ~ " (" ~ relation ~ ") does not exist: " ~ model.name ~ " reads it as empty", info=true) -%}
    {{ return('(\n    select\n        ' ~ selected | join(',\n        ') ~ '\n    where 1 = 0\n) as ' ~ table_name) }}
{%- endmacro %}

{#-
    source_column_types(source_name, table_name): {column name: data_type} of a source table, in YAML
    order, from the project's source definitions. Fails when the table declares no columns or a column has
    no data_type, because the empty stand-in must have the raw table's exact shape.
-#}
{% macro source_column_types(source_name, table_name) -%}
    {%- set matches = graph.sources.values()
        | selectattr('source_name', 'equalto', source_name)
        | selectattr('name', 'equalto', table_name)
        | list -%}
    {%- if matches | length != 1 -%}
        {{ exceptions.raise_compiler_error("source_column_types: expected one source " ~ source_name ~ "." ~ table_name ~ ", found " ~ matches | length) }}
    {%- endif -%}
    {%- set columns = matches[0].columns.values() | list -%}
    {%- if not columns -%}
        {{ exceptions.raise_compiler_error("source " ~ source_name ~ "." ~ table_name ~ " declares no columns; list them with their data_type in _" ~ source_name ~ "__sources.yml") }}
    {%- endif -%}
    {%- set types = {} -%}
    {%- for column in columns -%}
        {%- if not column.data_type -%}
            {{ exceptions.raise_compiler_error("column " ~ column.name ~ " of source " ~ source_name ~ "." ~ table_name ~ " has no data_type in _" ~ source_name ~ "__sources.yml (needed to read a missing table as empty)") }}
        {%- endif -%}
        {%- do types.update({column.name: column.data_type}) -%}
    {%- endfor -%}
    {{ return(types) }}
{%- endmacro %}
