"""Server access logs: Combined Log Format + visitor cookie under `logs/YYYY-MM-DD/` -> `raw_logs`.

Each line is parsed with one regular expression in DuckDB (vectorised); a line that does not match,
whose timestamp does not parse or lies outside what a server can log (files.time_window_reasons), whose
status is no HTTP status (100-599) or whose response size is not a 64-bit number goes to
`raw_logs.quarantine` with the reason. Quoted fields
may hold escaped quotes (`\"`, as Apache writes them). A `-` cookie means an unknown visitor: the visit is
kept with a null `anonymous_id`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dlt

from ingestion.files import LineValidator, ReadCounts, load_new_files, time_window_reasons
from ingestion.suppression import SuppressionList

SUFFIXES = (".log", ".log.gz")
# host ident user [time] "method url protocol" status bytes "referrer" "user agent" "cookie"
QUOTED = r'"((?:[^"\\]|\\.)*)"'  # a quoted field; \" inside is an escaped quote
COMBINED_WITH_COOKIE = (
    rf'^(\S+) (\S+) (\S+) \[([^\]]+)\] "(\S+) (\S+) ?(\S*)" (\d{{3}}) (\d+|-) {QUOTED} {QUOTED} {QUOTED}\s*$'
)
GROUPS = [
    "client_ip", "ident", "auth_user", "requested_at_text", "http_method", "url", "http_protocol",
    "status_text", "bytes_text", "referrer", "user_agent", "cookie",
]  # fmt: skip
DATA_COLUMNS = (
    "client_ip", "requested_at", "http_method", "url", "http_protocol", "status_code", "response_bytes",
    "referrer", "user_agent", "anonymous_id", "source_file", "line_number",
)  # fmt: skip


class LogValidator(LineValidator):
    data_columns = DATA_COLUMNS

    def __init__(self, until: dt.date | None = None) -> None:
        super().__init__()
        self.sql = f"""
        with parsed as (
            select
                source_file,
                line_number,
                raw_line,
                read_error,
                regexp_extract(raw_line, '{COMBINED_WITH_COOKIE}', {GROUPS}) as part
            from lines
        ),
        typed as (
            select
                source_file,
                line_number,
                raw_line,
                read_error,
                part.client_ip,
                part.requested_at_text,
                try_strptime(part.requested_at_text, '%d/%b/%Y:%H:%M:%S %z') as requested_at,
                part.http_method,
                part.url,
                nullif(part.http_protocol, '') as http_protocol,
                try_cast(part.status_text as integer) as status_code,
                part.bytes_text,
                try_cast(nullif(part.bytes_text, '-') as bigint) as response_bytes,
                nullif(part.referrer, '-') as referrer,
                nullif(part.user_agent, '-') as user_agent,
                nullif(nullif(part.cookie, '-'), '') as anonymous_id
            from parsed
        )
        select
            *,
            case
                when read_error is not null then read_error
                when client_ip = '' then 'not a Combined Log Format line with a trailing cookie field'
                when requested_at is null then 'invalid timestamp: ''' || requested_at_text || ''''
                {time_window_reasons("requested_at", "requested_at_text", until)}
                when status_code not between 100 and 599
                    then 'HTTP status out of range (100-599): ' || status_code
                when response_bytes is null and bytes_text <> '-'
                    then 'response size out of range: ''' || left(bytes_text, 80) || ''''
            end as reason
        from typed
        """


@dlt.resource(name="page_visits", write_disposition="append")
def page_visits(
    landing_dir: Path, until: dt.date | None, counts: ReadCounts, suppressed: SuppressionList | None = None
):
    """New access-log files -> page_visits (parsed lines) and quarantine (unparsable lines)."""
    yield from load_new_files(
        "logs", SUFFIXES, landing_dir, until, LogValidator(until), "page_visits", counts, suppressed,
        {"anonymous_id": "anonymous_id"},
    )  # fmt: skip


@dlt.source(name="logs")
def logs_source(
    landing_dir: Path, until: dt.date | None, counts: ReadCounts, suppressed: SuppressionList | None = None
):
    return page_visits(landing_dir, until, counts, suppressed)
