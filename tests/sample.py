"""The size of the generated sample most tests share: small enough for seconds, big enough to be messy."""

import datetime as dt

SAMPLE = {"users": 300, "days": 3, "seed": 7, "start_date": dt.date(2026, 1, 1)}
SAMPLE_RUN_DATE = SAMPLE["start_date"] + dt.timedelta(days=SAMPLE["days"] - 1)
