#!/usr/bin/env python3
"""Checks SQL written for Athena by another engine, as `query/tests/athena_sql.rs` asks.

Usage: check.py LAKE DIR EMPTY

For each DIR/NNN-*.sql (the Athena SQL of one plan, `ecs-query --show-sql
--dialect athena`) beside DIR/NNN-*.csv (DataFusion's answer to the same
plan): parses it with sqlglot's Trino grammar (Athena engine version 3 is
Trino), transpiles it to DuckDB with the same tool, runs it with DuckDB over
the lake's Parquet files (Hive partitioning), and compares the rows with
DataFusion's: the same columns (by name), the same rows as multisets (ties in
an ORDER BY come back in any order), strings equal, numbers within 0.1 (or
1%), times equal to the microsecond. Tables nothing was written to are the
empty Parquet files under EMPTY (one per table, with its columns). Columns from `approx_percentile`
(Trino has no exact percentile) are compared within 25%. Prints one line per
query and exits 1 if any failed.
"""
import csv
import datetime
import glob
import io
import os
import sys

try:
    import duckdb
    import sqlglot
except ImportError as missing:
    print(f"{missing.name} is not installed")
    sys.exit(3)

APPROX = ("_p50", "_p95", "median_")


def views(con, lake, empty):
    """Each table of the lake as a view named as Athena's table: its files, or
    (nothing written to it yet) the empty file with its columns."""
    for table in sorted(os.listdir(lake)):
        if glob.glob(os.path.join(lake, table, "*", "*.parquet")):
            con.execute(f"CREATE VIEW {table.lstrip('_')} AS SELECT * FROM "
                        f"read_parquet('{lake}/{table}/*/*.parquet', hive_partitioning = true)")
    for path in sorted(glob.glob(os.path.join(empty, "*.parquet"))):
        table = os.path.basename(path)[:-len(".parquet")]
        con.execute(f"CREATE VIEW {table} AS SELECT *, CAST(NULL AS VARCHAR) AS dt FROM read_parquet('{path}')")


def value(text):
    """A CSV cell (arrow's writer) as a Python value."""
    if text == "":
        return None
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            pass
    if text in ("true", "false"):
        return text == "true"
    try:
        t = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return t if t.tzinfo else t.replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return text


def same(column, ours, theirs):
    if isinstance(theirs, datetime.datetime):
        theirs = theirs if theirs.tzinfo else theirs.replace(tzinfo=datetime.timezone.utc)
    if ours is None or theirs is None:
        return ours is None and theirs is None
    if isinstance(theirs, bool) or isinstance(ours, bool):
        return bool(ours) == bool(theirs)
    if isinstance(ours, (int, float)) and isinstance(theirs, (int, float)):
        if any(a in column for a in APPROX):
            return abs(ours - theirs) <= max(0.1, 0.25 * abs(ours))
        return abs(ours - theirs) <= max(0.1, 0.01 * abs(ours))
    if isinstance(ours, datetime.datetime) and isinstance(theirs, datetime.datetime):
        return ours == theirs
    return str(ours) == str(theirs)


def key(columns, row):
    """A row's sort key: its text, time and whole-number cells (floats differ within tolerance)."""
    return tuple(("" if v is None else str(v)) for c, v in zip(columns, row) if not isinstance(v, float))


def check(con, sql_path):
    sql = open(sql_path).read().strip().rstrip(";")
    tree = sqlglot.parse_one(sql, read="trino")  # raises on what Trino's grammar refuses
    result = con.execute(tree.sql(dialect="duckdb"))
    columns = [d[0] for d in result.description]
    rows = result.fetchall()
    with open(sql_path[:-4] + ".csv") as f:
        expected = list(csv.reader(io.StringIO(f.read())))
    header, expected = expected[0], expected[1:]
    # By name: the unparser may list a plan's columns in another order (an
    # aggregate's groups after its values), and a client maps them by name.
    if sorted(header) != sorted(columns):
        return f"columns {columns} != DataFusion's {header}"
    order = [columns.index(c) for c in header]
    rows = [tuple(row[i] for i in order) for row in rows]
    expected = [tuple(value(a) for a in row) for row in expected]
    if len(rows) != len(expected):
        return f"{len(rows)} rows != DataFusion's {len(expected)}"
    # As multisets: ties in an ORDER BY, and plans without one, come back in
    # any order from either engine.
    norm = lambda r: tuple(v.astimezone(datetime.timezone.utc) if isinstance(v, datetime.datetime) and v.tzinfo
                           else v.replace(tzinfo=datetime.timezone.utc) if isinstance(v, datetime.datetime)
                           else v for v in r)
    rows = sorted(map(norm, rows), key=lambda r: key(header, r))
    expected = sorted(map(norm, expected), key=lambda r: key(header, r))
    for mine, theirs in zip(expected, rows):
        for column, a, b in zip(header, mine, theirs):
            if not same(column, a, b):
                return f"row {mine}: column {column}: DuckDB {b!r} != DataFusion {a!r}"
    return None


def main():
    lake, folder, empty = sys.argv[1], sys.argv[2], sys.argv[3]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    views(con, lake, empty)
    failed = 0
    for path in sorted(glob.glob(os.path.join(folder, "*.sql"))):
        try:
            problem = check(con, path)
        except Exception as e:  # noqa: BLE001 - one line per query, then the verdict
            problem = f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"
        failed += problem is not None
        print(f"{os.path.basename(path)}: {problem or 'same answer'}")
    sys.exit(1 if failed else 0)


main()
