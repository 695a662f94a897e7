"""Loaders for pwh's four sources (CRM database, analytics events, access logs, product catalog), built on dlt."""

import os
from pathlib import Path

# dlt reads its settings from `<project dir>/.dlt/`: point it at ingestion/.dlt wherever pwh is started.
os.environ.setdefault("DLT_PROJECT_DIR", str(Path(__file__).parent))

# in the order their loads run (pwh.pipeline.ingest); dlt-free so the DAG file can read it cheaply
SOURCES = ("crm", "events", "logs", "catalog")
