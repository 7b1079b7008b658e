#!/usr/bin/env python3
"""Checks SQL written for Athena by another engine, as `query/tests/athena_sql.rs` asks.

Usage: check.py LAKE DIR EMPTY

For each plan, DIR/NNN-*.trino.sql (its Athena SQL, `ecs-query --show-sql
--dialect athena`) and DIR/NNN-*.duckdb.sql (`--dialect duckdb`) beside
DIR/NNN-*.csv (DataFusion's answer): the Athena SQL is parsed with sqlglot's
Trino grammar (Athena engine version 3 is Trino) and transpiled to DuckDB by
the same tool, the DuckDB SQL parsed as DuckDB's; each runs on DuckDB over the
lake's Parquet files (Hive partitioning) and is compared with DataFusion's
answer: the same columns (by name); rows in the same order on the outermost
ORDER BY's columns and the same rows as multisets; integers exact, other
numbers within 1e-6 (relative), times to the microsecond, booleans as
booleans. The percentile columns (`approx_percentile` on Athena, DuckDB's
`approx_quantile` here) are compared within 25%: Athena's digest returns a
value of the data near the rank, not an interpolation, which this check
cannot reproduce. Tables nothing was written to are the empty Parquet files
under EMPTY (one per table, with its columns). Prints one line per
query and exits 1 if any failed.
"""
import csv
import datetime
import glob
import io
import math
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


def is_approx(column):
    return any(a in column for a in APPROX)


def same(column, ours, theirs):
    """One cell: DataFusion's (from its CSV) against DuckDB's."""
    if isinstance(theirs, float) and math.isnan(theirs):
        theirs = None  # DuckDB's regr_slope of one point; DataFusion's and Trino's are NULL
    if isinstance(theirs, datetime.datetime):
        theirs = theirs if theirs.tzinfo else theirs.replace(tzinfo=datetime.timezone.utc)
    if ours is None or theirs is None:
        return ours is None and theirs is None
    if isinstance(theirs, bool) or isinstance(ours, bool):
        return isinstance(theirs, bool) and isinstance(ours, bool) and ours == theirs
    if isinstance(ours, int) and isinstance(theirs, int):
        return ours == theirs
    if isinstance(ours, (int, float)) and isinstance(theirs, (int, float)):
        if is_approx(column):
            return abs(ours - theirs) <= max(0.5, 0.25 * abs(ours))
        return abs(ours - theirs) <= 1e-6 * max(1.0, abs(ours))
    if isinstance(ours, datetime.datetime) and isinstance(theirs, datetime.datetime):
        return ours == theirs
    return str(ours) == str(theirs)


def key(row):
    """A row's sort key: its text, time and whole-number cells (floats differ within tolerance)."""
    return tuple(("" if v is None else str(v)) for v in row if not isinstance(v, float))


def utc(row):
    return tuple(v.astimezone(datetime.timezone.utc) if isinstance(v, datetime.datetime) and v.tzinfo
                 else v.replace(tzinfo=datetime.timezone.utc) if isinstance(v, datetime.datetime)
                 else v for v in row)


def order_columns(tree):
    """The plain columns the outermost ORDER BY sorts on (before any LIMIT)."""
    order = tree.args.get("order")
    if order is None:
        return []
    return [e.this.name for e in order.expressions if isinstance(e.this, sqlglot.exp.Column)]


def check(con, sql_path, dialect):
    sql = open(sql_path).read().strip().rstrip(";")
    # Trino's grammar refuses what Athena would (a parse error is the verdict).
    tree = sqlglot.parse_one(sql, read=dialect)
    result = con.execute(tree.sql(dialect="duckdb") if dialect == "trino" else sql)
    columns = [d[0] for d in result.description]
    rows = result.fetchall()
    with open(sql_path.rsplit(".", 2)[0] + ".csv") as f:
        expected = list(csv.reader(io.StringIO(f.read())))
    header, expected = expected[0], expected[1:]
    # By name: the unparser may list a plan's columns in another order (an
    # aggregate's groups after its values), and a client maps them by name.
    if sorted(header) != sorted(columns):
        return f"columns {columns} != DataFusion's {header}"
    at = [columns.index(c) for c in header]
    rows = [utc(tuple(row[i] for i in at)) for row in rows]
    expected = [utc(tuple(value(a) for a in row)) for row in expected]
    if len(rows) != len(expected):
        return f"{len(rows)} rows != DataFusion's {len(expected)}"
    # In order on the ORDER BY's columns (ties may come back either way)...
    sorted_on = [header.index(c) for c in order_columns(tree) if c in header]
    for n, (mine, theirs) in enumerate(zip(expected, rows)):
        for i in sorted_on:
            if not same(header[i], mine[i], theirs[i]):
                return f"row {n} out of order on {header[i]}: DuckDB {theirs[i]!r} != DataFusion {mine[i]!r}"
    # ...and the same rows, as multisets.
    for mine, theirs in zip(sorted(expected, key=key), sorted(rows, key=key)):
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
        dialect = "trino" if path.endswith(".trino.sql") else "duckdb"
        try:
            problem = check(con, path, dialect)
        except Exception as e:  # noqa: BLE001 - one line per query, then the verdict
            problem = f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"
        failed += problem is not None
        print(f"{os.path.basename(path)}: {problem or 'same answer'}")
    sys.exit(1 if failed else 0)


main()
