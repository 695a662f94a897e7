{#-
    surrogate_key(columns): a stable md5 key built from several columns (nulls and separators included,
    so ('a', 'bc') and ('ab', 'c') differ). A small stand-in for dbt_utils.generate_surrogate_key,
    because this project installs no dbt packages.
-#}
{% macro surrogate_key(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append("coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '_pwh_null_')") -%}
        {%- if not loop.last -%}
            {%- do parts.append("'|'") -%}
        {%- endif -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}
