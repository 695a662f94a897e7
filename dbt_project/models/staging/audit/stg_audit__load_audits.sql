-- One row per run per loaded source table: the row counts ingestion recorded for it (audit.load_audit,
-- written by ingestion/runner.py). `load_ids` lists the run's dlt loads of the source, comma-separated.

with load_audit as (
    select * from {{ pwh.source_or_empty('audit', 'load_audit') }}
),

final as (
    select
        {{ pwh.surrogate_key(['run_id', 'source', 'table_name']) }} as load_audit_id,
        run_id,
        run_date,
        lower(trim(source)) as source,
        lower(trim(table_name)) as table_name,
        load_ids,
        files_read,
        rows_read,
        rows_loaded,
        rows_quarantined,
        coalesce(rows_suppressed, 0) as rows_suppressed,
        {{ pwh.to_utc('started_at') }} as started_at,
        {{ pwh.to_utc('finished_at') }} as finished_at
    from load_audit
)

select * from final
