-- One row per events line that ingestion rejected, per load that rejected it (for data-quality reporting).

{{ pwh.staging_quarantined_lines('events') }}
