-- One row per access-log line that ingestion rejected, per load that rejected it (for data-quality reporting).

with quarantine as (
    select * from {{ pwh.source_or_empty('logs', 'quarantine') }}
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
