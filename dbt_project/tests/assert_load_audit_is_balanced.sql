-- Fails with one row per load whose counts do not add up: every row ingestion read must have been
-- loaded, quarantined or suppressed (rows_read = rows_loaded + rows_quarantined + rows_suppressed).

with load_audit as (
    select * from {{ ref('load_audit') }}
),

unbalanced as (
    select
        run_id,
        source,
        table_name,
        rows_read,
        rows_loaded,
        rows_quarantined,
        rows_suppressed
    from load_audit
    where not is_balanced
)

select * from unbalanced
