"""With an OpenTelemetry SDK set up, runs and rounds are spans and messages carry their context."""

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import ekklesia as ek
from ekklesia.core.events import MessageSent


@pytest.mark.usefixtures("ray_session")
def test_runs_and_rounds_are_spans_and_messages_carry_trace_context() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    agents = [ek.Agent(f"a{i}", model=ek.SimulatedModel(skill=0.0)) for i in range(2)]
    with ek.Swarm(agents, rounds=2, stop_on_consensus=False) as swarm:
        result = swarm.run(ek.Task.of("1+1?", "2"))
    spans = exporter.get_finished_spans()
    names = [s.name for s in spans]
    assert names.count("ekklesia.step") == 2 and names.count("ekklesia.run") == 1
    run_span = next(s for s in spans if s.name == "ekklesia.run")
    assert run_span.attributes is not None and run_span.attributes["run_id"] == result.run_id
    trace_id = f"{run_span.context.trace_id:032x}"
    for event in result.timeline.of_kind(MessageSent):
        assert trace_id in event.message.trace["traceparent"]
