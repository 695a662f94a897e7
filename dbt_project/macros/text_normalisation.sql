{#- Text clean-up rules shared by the staging models. Each is covered by a unit test (see _crm__models.yml). -#}

{#-
    normalize_email(column): lower-cased, trimmed address, or null when it is not a plausible address
    (one '@', a dot-separated local part, a domain with at least one dot and a 2+ letter top-level label).
-#}
{% macro normalize_email(column) -%}
    {%- set cleaned = 'lower(trim(' ~ column ~ '))' -%}
    case
        when {{ pwh.regexp_like(cleaned, "^[a-z0-9_%+'-]+(\.[a-z0-9_%+'-]+)*@([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$") }}
            then {{ cleaned }}
    end
{%- endmacro %}

{#- squish(column): trimmed, runs of whitespace collapsed to one space, blank -> null. -#}
{% macro squish(column) -%}
    nullif(trim({{ pwh.regexp_replace_all(column, '\s+', ' ') }}), '')
{%- endmacro %}

{#-
    proper_case(column): first letter of every word upper case, the rest lower case, where a word is a run
    of letters ("o'neil-jones" -> "O'Neil-Jones", "de la cruz" -> "De La Cruz"). Same rule as initcap().
-#}
{% macro proper_case(column) -%}
    {{ return(adapter.dispatch('proper_case', 'pwh')(column)) }}
{%- endmacro %}

{% macro default__proper_case(column) -%}
    initcap({{ column }})
{%- endmacro %}

{#- DuckDB has no initcap(): split into runs of letters / non-letters and capitalise each run. -#}
{% macro duckdb__proper_case(column) -%}
    array_to_string(
        list_transform(
            regexp_extract_all(lower({{ column }}), '(\pL+|\PL+)'),
            lambda word_part: upper(word_part[1]) || word_part[2:]
        ),
        ''
    )
{%- endmacro %}

{#- Spark's initcap() starts words at spaces only ("O'neil-jones"): the same runs of letters as DuckDB. -#}
{% macro spark__proper_case(column) -%}
    array_join(
        transform(
            regexp_extract_all(lower({{ column }}), {{ pwh.spark_string_literal('(\pL+|\PL+)') }}, 1),
            word_part -> concat(upper(substring(word_part, 1, 1)), substring(word_part, 2))
        ),
        ''
    )
{%- endmacro %}
