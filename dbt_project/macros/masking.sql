{#-
    Masking of direct identifiers for the analyst views (models/analyst/), which `pwh publish` writes into
    the analyst warehouse (docs/analysts.md). Emails and phones become pseudonyms: the same value gives
    the same 16 hex digits in every table and every run, so analysts can still join and count distinct
    people. Names and birth dates are removed instead, because they are too easy to guess and hash.

    A pseudonym is an unkeyed md5, like `person_id`: it hides the value from whoever reads the table,
    but someone who already holds a candidate email or phone number can hash it and look it up.
-#}

{#- pii_hash(expression): 16 hex digits of the md5 of the value; null (or empty) stays null. -#}
{% macro pii_hash(expression) -%}
    substring({{ dbt.hash("nullif(" ~ expression ~ ", '')") }}, 1, 16)
{%- endmacro %}

{#- mask_email(column): the pseudonym of the email, lower-cased and trimmed first (as staging does). -#}
{% macro mask_email(column) -%}
    {{ pwh.pii_hash("lower(trim(" ~ column ~ "))") }}
{%- endmacro %}

{#- mask_phone(column): the pseudonym of the phone number (already E.164 in the marts). -#}
{% macro mask_phone(column) -%}
    {{ pwh.pii_hash("trim(" ~ column ~ ")") }}
{%- endmacro %}

{#- redact(data_type): no value at all, of the column's type (names, birth dates). -#}
{% macro redact(data_type) -%}
    {{ dbt.cast('null', data_type) }}
{%- endmacro %}

{#-
    select_masked(relation, masks): the select list of every column of `relation`, in its order, with the
    columns named in `masks` ({column: expression}) replaced by their expression under the same name.
    Columns come from the built relation, so a column added to the mart reaches the analyst view without
    an edit here; a mask whose column no longer exists (a rename) is an error, never a silent pass-through.
-#}
{% macro select_masked(relation, masks) -%}
    {%- if not execute -%}
        {{ return('*') }}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(relation) -%}
    {%- if columns | length == 0 -%}
        {{ exceptions.raise_compiler_error("select_masked: " ~ relation ~ " has no columns: build it first") }}
    {%- endif -%}
    {%- set names = columns | map(attribute='name') | map('lower') | list -%}
    {%- for masked in masks if masked | lower not in names -%}
        {{ exceptions.raise_compiler_error("select_masked: " ~ relation ~ " has no column " ~ masked ~ " to mask") }}
    {%- endfor -%}
    {%- for column in columns %}
        {% if column.name | lower in masks -%}
            {{ masks[column.name | lower] }} as {{ adapter.quote(column.name) }}
        {%- else -%}
            {{ adapter.quote(column.name) }}
        {%- endif -%}
        {{ ',' if not loop.last }}
    {%- endfor -%}
{%- endmacro %}

{#-
    analyst_grants(): the dbt `grants` of the analyst views: select for the roles in var `analyst_roles`
    (e.g. --vars '{analyst_roles: [analyst]}') on engines that have roles. DuckDB has none (dbt-duckdb
    only warns), so there the analyst warehouse file and its file permissions play that part.
-#}
{% macro analyst_grants() -%}
    {%- set roles = var('analyst_roles', []) -%}
    {{ return({'select': roles} if roles and target.type != 'duckdb' else {}) }}
{%- endmacro %}
