"""How long ``ekklesia timeline list`` and ``ekklesia cost report`` take over many timelines.

Writes ``--runs`` synthetic timelines (a run_started, ``--calls`` priced model calls, a
run_finished; ``--per-session`` runs per session) into a temporary ``$EKKLESIA_HOME``, then times
the run list from the footer summaries against loading every timeline's events (what ``timeline
list`` did before), and the cost report by model and by session. Prints one JSON object.

    .venv/bin/python benchmarks/cost_views.py --runs 2000 --calls 20
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--per-session", type=int, default=100)
    args = parser.parse_args()
    os.environ["EKKLESIA_HOME"] = tempfile.mkdtemp(prefix="ekklesia-bench-")

    from ekklesia.core.events import ModelCalled, RunFinished, RunOrigin, RunStarted, Usage
    from ekklesia.core.llm import LLMResponse
    from ekklesia.runtime.costs import CostRecords
    from ekklesia.runtime.timeline import Timeline

    began = time.perf_counter()
    for i in range(args.runs):
        timeline = Timeline(f"run-{i:06d}")
        origin = RunOrigin(session=f"s-{i // args.per_session:06d}", command="ekklesia run")
        timeline.append(
            RunStarted(spec={}, task={"id": f"t{i}"}, tags={"pattern": "debate"}, origin=origin)
        )
        for c in range(args.calls):
            response = LLMResponse(
                text="Answer: 1",
                input_tokens=120,
                output_tokens=40,
                cost_usd=0.0001,
                model=f"model-{c % 3}",
            )
            timeline.append(
                ModelCalled(agent=f"a{c % 3}", call_index=c, request_digest="d", response=response)
            )
        usage = Usage(
            input_tokens=120 * args.calls,
            output_tokens=40 * args.calls,
            usd=0.0001 * args.calls,
            calls=args.calls,
        )
        timeline.append(
            RunFinished(
                answer="1",
                expected="1",
                correct=True,
                stop_reason="max_rounds",
                rounds=2,
                usage=usage,
            )
        )
        timeline.write()
    written = time.perf_counter() - began

    def timed(work):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        out = work()
        return time.perf_counter() - start, out

    summaries_s, summaries = timed(Timeline.summaries)
    loading_s, _ = timed(lambda: [Timeline.load(r).status for r in Timeline.list_runs()])
    report_s, records = timed(CostRecords.load)
    grouping_s, _ = timed(lambda: (records.report("model"), records.report("session", 10)))
    print(
        json.dumps(
            {
                "runs": args.runs,
                "calls_per_run": args.calls,
                "write_s": round(written, 2),
                "list_from_footers_s": round(summaries_s, 3),
                "list_by_loading_events_s": round(loading_s, 3),
                "cost_report_read_s": round(report_s, 3),
                "cost_report_group_s": round(grouping_s, 3),
                "sessions": len({s.session for s in summaries}),
                "calls": records.total().calls,
            }
        )
    )


if __name__ == "__main__":
    main()
