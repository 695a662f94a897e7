{#-
    Apache Spark (dbt-spark, `--target spark`): the few places where Spark SQL spells a concept otherwise
    than DuckDB. The models are the same on both engines; these overrides make dbt's cross-database macros
    and the project's dispatched ones produce Spark's spelling. See docs/scaling.md ("dbt on Spark").
-#}

{#-
    Spark's type names: `varchar` needs a length there and `double precision` does not parse, so the
    DuckDB/Postgres spellings used in YAML (source and contract data types) and in casts are translated.
    dbt searches the root project first when it dispatches its own macros, so this `spark__cast` is what
    dbt.cast, the contract check and source_or_empty use on Spark.
-#}
{% macro spark__cast(field, type) -%}
    {%- set spark_types = {
        'varchar': 'string',
        'text': 'string',
        'double precision': 'double',
        'timestamp with time zone': 'timestamp',
        'timestamptz': 'timestamp',
    } -%}
    {%- set type_name = type | trim -%}
    cast({{ field }} as {{ spark_types.get(type_name | lower, type_name) }})
{%- endmacro %}

{#-
    dbt-spark's listagg ignores the order by (it warns and uses collect_list, whose order is not defined).
    Spark 4 has the SQL-standard listagg ... within group (order by ...), which keeps favourite and theme
    lists in rank order as DuckDB does.
-#}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- if limit_num -%}
        {{ exceptions.raise_compiler_error("listagg with limit_num is not implemented for Spark in this project") }}
    {%- endif -%}
    listagg({{ measure }}, {{ delimiter_text }}){% if order_by_clause %} within group ({{ order_by_clause }}){% endif %}
{%- endmacro %}

{#-
    Seeds: dbt-spark's session method binds seed values by wrapping them in quotes unescaped, so a quote
    in a value ("The magazine's ...") breaks the insert and an empty cell arrives as the text 'None'.
    This writes every value as an escaped literal (null for an empty cell) instead.
-#}
{% macro spark__load_csv_rows(model, agate_table) -%}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(get_batch_size()) -%}
        {%- set sql -%}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                (
                {%- for col_name in agate_table.column_names -%}
                    {%- set type = column_override.get(col_name, adapter.convert_type(agate_table, loop.index0)) -%}
                    {%- set value = row[loop.index0] -%}
                    cast({{ 'null' if value is none else pwh.spark_string_literal(value | string) }} as {{ type }})
                    {{- ', ' if not loop.last }}
                {%- endfor -%}
                ){{ ',' if not loop.last }}
            {% endfor %}
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- if loop.first -%}
            {%- do statements.append(sql) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements[0] if statements else '') }}
{%- endmacro %}

{#-
    register_parquet_sources(lake, tables): on Spark, make every table in `tables` (["raw_crm.customers", ...])
    a table of the session's metastore over the Parquet files in `<lake>/<schema>/<table>/`, in a database
    named like the DuckDB schema, so that the sources resolve unchanged. Tables not listed stay missing,
    and staging reads them as empty (source_or_empty). deploy/spark/dbt_on_spark.py exports the files from
    a DuckDB warehouse and calls this with `dbt run-operation`.
-#}
{% macro register_parquet_sources(lake, tables) -%}
    {%- if target.type != 'spark' -%}
        {{ exceptions.raise_compiler_error("register_parquet_sources is for the spark target, not " ~ target.type) }}
    {%- endif -%}
    {%- for source in graph.sources.values() | sort(attribute='unique_id') -%}
        {%- set name = source.schema ~ '.' ~ source.identifier -%}
        {%- do run_query('create database if not exists ' ~ source.schema) -%}
        {%- do run_query('drop table if exists ' ~ name) -%}
        {%- if name in tables -%}
            {%- do run_query('create table ' ~ name ~ " using parquet location '"
                ~ dbt.escape_single_quotes(lake ~ '/' ~ source.schema ~ '/' ~ source.identifier) ~ "'") -%}
            {%- do log('registered ' ~ name, info=true) -%}
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}
