-- One row per run per source table: how many rows ingestion read, loaded and quarantined, and whether
-- they add up. tests/assert_load_audit_is_balanced.sql fails the build when a row does not.

with load_audits as (
    select * from {{ ref('stg_audit__load_audits') }}
),

final as (
    select
        run_id,
        run_date,
        source,
        table_name,
        load_ids,
        files_read,
        rows_read,
        rows_loaded,
        rows_quarantined,
        rows_suppressed,
        started_at,
        finished_at,
        {{ dbt.datediff('started_at', 'finished_at', 'second') }} as duration_seconds,
        -- every row read is loaded, quarantined or suppressed (a forgotten person's); a missing count
        -- never balances
        coalesce(rows_read = rows_loaded + rows_quarantined + rows_suppressed, false) as is_balanced
    from load_audits
)

select * from final
