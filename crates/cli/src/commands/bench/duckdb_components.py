"""Connected components of an identifier graph in DuckDB: iterative label propagation in SQL.

Reads edges (columns a, b: `type:value` identifier keys) from the Parquet file named by the first
argument, computes which identifiers end up connected, and prints one JSON line with the figures.
The timed part starts once the edges are in a DuckDB table, so reading the file is not counted.
"""

import json
import sys
import time

import duckdb

connection = duckdb.connect()
connection.execute("SET enable_progress_bar = false")
connection.execute("CREATE TABLE edges AS SELECT a, b FROM read_parquet(?)", [sys.argv[1]])
started = time.perf_counter()
# Number the identifiers, then propagate the smallest number along the edges until nothing changes.
connection.execute(
    "CREATE TABLE nodes AS SELECT id, row_number() OVER () AS n "
    "FROM (SELECT a AS id FROM edges UNION SELECT b FROM edges)"
)
connection.execute(
    "CREATE TABLE links AS "
    "SELECT x.n AS a, y.n AS b FROM edges JOIN nodes x ON edges.a = x.id JOIN nodes y ON edges.b = y.id "
    "WHERE x.n <> y.n"
)
connection.execute("CREATE TABLE both_ways AS SELECT a, b FROM links UNION SELECT b, a FROM links")
connection.execute("CREATE TABLE label AS SELECT n AS id, n AS component FROM nodes")
iterations = 0
while True:
    iterations += 1
    connection.execute(
        "CREATE TABLE next_label AS "
        "SELECT label.id, least(label.component, coalesce(min(neighbour.component), label.component)) AS component "
        "FROM label LEFT JOIN both_ways ON both_ways.a = label.id "
        "LEFT JOIN label neighbour ON neighbour.id = both_ways.b "
        "GROUP BY label.id, label.component"
    )
    changed = connection.execute(
        "SELECT count(*) FROM next_label JOIN label USING (id) WHERE next_label.component <> label.component"
    ).fetchone()[0]
    connection.execute("DROP TABLE label")
    connection.execute("ALTER TABLE next_label RENAME TO label")
    if changed == 0:
        break
identifiers, components = connection.execute(
    "SELECT count(*), count(DISTINCT component) FROM label"
).fetchone()
seconds = time.perf_counter() - started
print(
    json.dumps(
        {
            "version": duckdb.__version__,
            "identifiers": identifiers,
            "components": components,
            "iterations": iterations,
            "seconds": seconds,
        }
    )
)
