"""The analyses of `silta bench analytics`, in DuckDB over the same events exported to Parquet.

The first argument names the Parquet file (one row per event with `person`, the merged profile
Silta resolved), the second a JSON object with the dates and names the Silta side used. Each
analysis reads the file and runs twice, and the better time counts; one JSON line is
printed with the seconds and the figures the bench compares against Silta's.
"""

import json
import sys
import time

import duckdb

parameters = json.loads(sys.argv[2])
connection = duckdb.connect()
connection.execute("SET enable_progress_bar = false")
connection.execute("SET TimeZone = 'UTC'")
# Read from the Parquet file in every analysis, as Silta reads its Parquet files.
path = sys.argv[1].replace("'", "''")
connection.execute(
    f"CREATE VIEW events AS SELECT * FROM read_parquet('{path}') WHERE person IS NOT NULL"
)


def timed(sql, arguments):
    """The better of two runs, in seconds, and the rows."""
    best = float("inf")
    for _ in range(2):
        started = time.perf_counter()
        rows = connection.execute(sql, arguments).fetchall()
        best = min(best, time.perf_counter() - started)
    return best, rows


FUNNEL = """
WITH steps AS (
    SELECT person, timestamp AS t, event, channel FROM events
    WHERE event IN (?, ?, ?, ?) AND timestamp >= ?::TIMESTAMPTZ
      AND timestamp < ?::TIMESTAMPTZ + INTERVAL (?) HOUR
), s1 AS (
    SELECT person, t AS t1, channel FROM steps WHERE event = ? AND t < ?::TIMESTAMPTZ
), s2 AS (
    SELECT s1.person, s1.t1, s1.channel, min(s.t) AS t2 FROM s1 LEFT JOIN steps s
      ON s.person = s1.person AND s.event = ? AND s.t >= s1.t1 AND s.t <= s1.t1 + INTERVAL (?) HOUR
    GROUP BY ALL
), s3 AS (
    SELECT s2.person, s2.t1, s2.channel, s2.t2, min(s.t) AS t3 FROM s2 LEFT JOIN steps s
      ON s.person = s2.person AND s.event = ? AND s.t >= s2.t2 AND s.t <= s2.t1 + INTERVAL (?) HOUR
    GROUP BY ALL
), s4 AS (
    SELECT s3.person, s3.channel, s3.t2, s3.t3, min(s.t) AS t4 FROM s3 LEFT JOIN steps s
      ON s.person = s3.person AND s.event = ? AND s.t >= s3.t3 AND s.t <= s3.t1 + INTERVAL (?) HOUR
    GROUP BY ALL
), people AS (
    SELECT person, channel, max(1 + (t2 IS NOT NULL)::INT + (t3 IS NOT NULL)::INT
                                  + (t4 IS NOT NULL)::INT) AS reached
    FROM s4 GROUP BY ALL
), overall AS (
    SELECT person, max(reached) AS reached FROM people GROUP BY person
)
SELECT 'all' AS channel, count(*) FILTER (reached >= 1), count(*) FILTER (reached >= 2),
       count(*) FILTER (reached >= 3), count(*) FILTER (reached >= 4) FROM overall
UNION ALL
SELECT channel, count(*) FILTER (reached >= 1), count(*) FILTER (reached >= 2),
       count(*) FILTER (reached >= 3), count(*) FILTER (reached >= 4) FROM people GROUP BY channel
"""

RETENTION = """
WITH first_seen AS (
    SELECT person, date_trunc('week', min(timestamp)) AS cohort FROM events
    WHERE event = ? GROUP BY person
), cohorts AS (
    SELECT * FROM first_seen WHERE cohort BETWEEN ?::TIMESTAMPTZ AND ?::TIMESTAMPTZ
), returns AS (
    SELECT DISTINCT c.person, c.cohort,
           datediff('week', c.cohort, date_trunc('week', e.timestamp)) AS period
    FROM cohorts c JOIN events e ON e.person = c.person AND e.event = ?
    WHERE e.timestamp >= c.cohort + INTERVAL 7 DAY
      AND e.timestamp < c.cohort + INTERVAL (7 * ?) DAY
)
SELECT cohort, -1 AS period, count(*) FROM cohorts GROUP BY cohort
UNION ALL
SELECT cohort, period, count(DISTINCT person) FROM returns GROUP BY ALL
ORDER BY 1, 2
"""

WEB = """
WITH views AS (
    SELECT person, timestamp, page_path,
           CASE WHEN timestamp < ?::TIMESTAMPTZ THEN 'previous' ELSE 'current' END AS period
    FROM events WHERE type = 'page' AND timestamp >= ?::TIMESTAMPTZ AND timestamp < ?::TIMESTAMPTZ
), marked AS (
    SELECT *, CASE WHEN lag(timestamp) OVER w IS NULL
                     OR timestamp - lag(timestamp) OVER w > INTERVAL 30 MINUTE THEN 1 ELSE 0 END AS starts
    FROM views WINDOW w AS (PARTITION BY period, person ORDER BY timestamp)
), numbered AS (
    SELECT *, sum(starts) OVER (PARTITION BY period, person ORDER BY timestamp) AS session FROM marked
), sessions AS (
    SELECT period, person, session, count(*) AS views,
           epoch(max(timestamp) - min(timestamp)) AS seconds, arg_min(page_path, timestamp) AS entry
    FROM numbered GROUP BY ALL
)
SELECT period, count(DISTINCT person), count(*), sum(views), avg((views = 1)::INT), avg(seconds)
FROM sessions GROUP BY period ORDER BY period
"""

AUDIENCE = """
SELECT count(*) FROM (
    SELECT person FROM events GROUP BY person
    HAVING count(*) FILTER (event = ? AND timestamp >= ?::TIMESTAMPTZ AND timestamp < ?::TIMESTAMPTZ) >= 2
       AND count(*) FILTER (event = ? AND timestamp >= ?::TIMESTAMPTZ AND timestamp < ?::TIMESTAMPTZ) >= 3
       AND count(*) FILTER (event = ? AND timestamp >= ?::TIMESTAMPTZ AND timestamp < ?::TIMESTAMPTZ) = 0
)
"""

ATTRIBUTION = """
WITH conversions AS (
    SELECT person, timestamp AS at, row_number() OVER () AS conversion FROM events
    WHERE event = ? AND timestamp >= ?::TIMESTAMPTZ AND timestamp < ?::TIMESTAMPTZ
), touches AS (
    SELECT person, timestamp AS at, utm_source FROM events
    WHERE utm_source IS NOT NULL AND utm_source <> '' AND event IS DISTINCT FROM ?
      AND timestamp >= ?::TIMESTAMPTZ - INTERVAL (?) DAY AND timestamp < ?::TIMESTAMPTZ
), credited AS (
    SELECT c.conversion, t.utm_source, t.at,
           count(*) OVER (PARTITION BY c.conversion) AS touches,
           row_number() OVER (PARTITION BY c.conversion ORDER BY t.at DESC) AS recency
    FROM conversions c JOIN touches t ON t.person = c.person
      AND t.at <= c.at AND t.at >= c.at - INTERVAL (?) DAY
)
SELECT utm_source, sum(1.0 / touches) AS linear, count(*) FILTER (recency = 1) AS last_touch,
       (SELECT count(*) FROM conversions) AS conversions
FROM credited GROUP BY utm_source ORDER BY utm_source
"""

p = parameters
funnel_steps = p["funnel_steps"]
window = p["funnel_window_hours"]
seconds_funnel, funnel = timed(
    FUNNEL,
    [*funnel_steps, p["funnel_from"], p["funnel_to"], window, funnel_steps[0], p["funnel_to"],
     funnel_steps[1], window, funnel_steps[2], window, funnel_steps[3], window],
)
seconds_retention, retention = timed(
    RETENTION,
    [p["retention_event"], p["retention_from"], p["retention_to"], p["retention_event"],
     p["retention_periods"]],
)
seconds_web, web = timed(WEB, [p["web_from"], p["web_previous_from"], p["web_to"]])
audience = p["audience"]
seconds_audience, audience_size = timed(AUDIENCE, audience)
seconds_attribution, attribution = timed(
    ATTRIBUTION,
    [p["conversion"], p["attribution_from"], p["attribution_to"], p["conversion"],
     p["attribution_from"], p["lookback_days"], p["attribution_to"], p["lookback_days"]],
)
print(json.dumps({
    "version": duckdb.__version__,
    "funnel": {"seconds": seconds_funnel, "overall": [row for row in funnel if row[0] == "all"][0][1:]},
    "retention": {"seconds": seconds_retention,
                  "people": sum(row[2] for row in retention if row[1] == -1),
                  "returned": sum(row[2] for row in retention if row[1] >= 1)},
    "web": {"seconds": seconds_web,
            "current": [row for row in web if row[0] == "current"][0][1:4]},
    "audience": {"seconds": seconds_audience, "size": audience_size[0][0]},
    "attribution": {"seconds": seconds_attribution,
                    "last_touch": {row[0]: row[2] for row in attribution},
                    "conversions": attribution[0][3] if attribution else 0},
}))
