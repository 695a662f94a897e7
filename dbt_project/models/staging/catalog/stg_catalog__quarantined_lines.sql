-- One row per catalog row that ingestion rejected, per load that rejected it (for data-quality reporting).
-- The catalog is re-read whenever it changes, so the same row can be rejected again in a later load.

{{ pwh.staging_quarantined_lines('catalog') }}
