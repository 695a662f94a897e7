{#-
    staging_quarantined_lines(source_name): the body of `stg_<source>__quarantined_lines`, one row per
    line (or row) that ingestion rejected, per load that rejected it. Every file source writes the same
    quarantine shape (source_file, line_number, raw_line, reason), so the three staging models share it.
-#}
{% macro staging_quarantined_lines(source_name) -%}
with quarantine as (
    select * from {{ pwh.source_or_empty(source_name, 'quarantine') }}
),

final as (
    select
        {{ pwh.surrogate_key(['_dlt_load_id', 'source_file', 'line_number']) }} as quarantined_line_id,
        _dlt_load_id as load_id,
        source_file,
        line_number,
        raw_line,
        reason
    from quarantine
)

select * from final
{%- endmacro %}
