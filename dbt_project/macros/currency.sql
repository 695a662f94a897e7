{#- Money conversion into the reporting currency (dbt var `reporting_currency`, rates in seeds/fx_rates.csv). -#}

{#- reporting_currency(): the reporting currency as an upper-case ISO 4217 code; fails compilation on anything else. -#}
{% macro reporting_currency() -%}
    {%- set currency = var('reporting_currency', 'EUR') | string | trim | upper -%}
    {%- if not modules.re.fullmatch('[A-Z]{3}', currency) -%}
        {{ exceptions.raise_compiler_error("var reporting_currency must be an ISO 4217 code such as EUR, got '" ~ currency ~ "'") }}
    {%- endif -%}
    {{ return(currency) }}
{%- endmacro %}

{#- in_reporting_currency(name): the column name for `name` converted, e.g. total_amount -> total_amount_eur. -#}
{% macro in_reporting_currency(name) -%}
    {{ return(name ~ '_' ~ pwh.reporting_currency() | lower) }}
{%- endmacro %}

{#-
    fx_to_reporting_rates(fx_rates): the body of a CTE with one row per currency and the factor that
    converts an amount in that currency into the reporting currency. `fx_rates` names a CTE that selects
    the fx_rates seed (currency, rate_per_eur). The reporting currency's own rate is taken with a window
    over the same rows, so callers need a single lookup join and no second one.
-#}
{% macro fx_to_reporting_rates(fx_rates) -%}
    select
        {{ fx_rates }}.currency,
        max(case when {{ fx_rates }}.currency = '{{ pwh.reporting_currency() }}' then {{ fx_rates }}.rate_per_eur end) over ()
            / {{ fx_rates }}.rate_per_eur as rate_to_reporting
    from {{ fx_rates }}
{%- endmacro %}

{#-
    convert_amount(amount, rate): amount times the conversion factor, as the project's numeric type
    (numeric(28, 6) on DuckDB), so that 108 USD at 1.08 is 100.000000 EUR and not 99.99999999999999.
-#}
{% macro convert_amount(amount, rate) -%}
    cast({{ amount }} * {{ rate }} as {{ dbt.type_numeric() }})
{%- endmacro %}
