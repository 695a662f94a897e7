-- One row per catalog row that ingestion rejected, per load that rejected it (for data-quality reporting).
-- The catalog is re-read whenever it changes, so the same row can be rejected again in a later load.

with quarantine as (
    select * from {{ pwh.source_or_empty('catalog', 'quarantine') }}
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
