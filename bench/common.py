"""What the query benchmarks share: options, the SQL that `ecs-query --show-sql`
prints made runnable by DuckDB, and answers compared row by row (ours as CSV,
DuckDB's rows)."""
import csv
import datetime
import io
import re


# The brief's questions (issue 19), beside a task's timeline.
QUESTIONS = [
    "exit 137 by revision last 7d",
    "oom by service last 24h",
    "stops by cause last 7d",
    "unhealthy by deployment last 7d",
    "memory peak by revision last 7d",
    "deployments last 7d",
    "top 10 tasks by memory peak last 24h",
]


# The lake's tables: as ingested, and derived by compaction (none before it).
DERIVED = ["task_peaks", "task_health"]
TABLES = ["task_events", "container_events", "service_events", "metrics", "health", "logs"] + DERIVED


def option(argv, name, default):
    """The value after `name` in argv (both removed), or default."""
    if name in argv:
        i = argv.index(name)
        value = argv[i + 1]
        del argv[i:i + 2]
        return value
    return default


def for_duckdb(sql):
    """DuckDB has no CAST(TIMESTAMPTZ AS BIGINT) (microseconds in DataFusion): epoch_us; and
    DataFusion's date_bin(stride, time, origin) is DuckDB's time_bucket."""
    sql = re.sub(r"CAST\(([\w.]+_at) AS BIGINT\)", r"epoch_us(\1)", sql.strip().rstrip(";"))
    return re.sub(r"\bdate_bin\(", "time_bucket(", sql)


def norm(value):
    """One spelling for both sides: numbers to 0.1, times to the microsecond since the epoch."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return str(round(value.timestamp() * 1e6))
    try:
        return f"{float(value):.1f}"
    except (TypeError, ValueError):
        pass
    try:
        t = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        if t.tzinfo is None:
            t = t.replace(tzinfo=datetime.timezone.utc)
        return str(round(t.timestamp() * 1e6))
    except ValueError:
        return str(value)


def close(a, b):
    """Equal, or numbers within 0.1 (an interpolated percentile rounded either side of a half)."""
    if a == b:
        return True
    try:
        return abs(float(a) - float(b)) <= 0.1 + 1e-9
    except ValueError:
        return False


def same(csv_text, rows):
    ours_rows = sorted(tuple(norm(v) for v in r) for r in list(csv.reader(io.StringIO(csv_text)))[1:])
    duck_rows = sorted(tuple(norm(v) for v in r) for r in rows)
    return len(ours_rows) == len(duck_rows) and all(
        len(a) == len(b) and all(close(x, y) for x, y in zip(a, b)) for a, b in zip(ours_rows, duck_rows))
