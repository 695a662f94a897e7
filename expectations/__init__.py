"""Data quality gates of the nightly run, written as Great Expectations (GX Core 1.x) suites.

Two gates: `raw` checks what ingestion loaded (after `check_load_audit`), `marts` checks the tables
people and tools read (after the recommender is trained, before publishing). `expectations.suites`
holds one suite per dataset; `expectations.run.check` is the checkpoint the pipeline calls: it reads
each table from the build warehouse, validates it, rebuilds the data docs and raises `QualityCheckFailed`
(a `pwh.pipeline.StepFailed`) naming every failed expectation.

Importing this package is cheap; Great Expectations itself (about 10 s to import) is imported only
when a check runs.
"""
