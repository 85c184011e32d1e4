"""The agent of ../openai-scenarios.mjs in Python, instrumented with a PyPI library.

Usage: agent.py <library>, library one of
  openai-v2      opentelemetry-instrumentation-openai-v2 with
                 OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental, content in the
                 gen_ai.input/output.messages span attributes (with the opentelemetry-util-genai
                 in requirements.lock it takes that path even without the opt-in)
  openinference  openinference-instrumentation-openai
  traceloop      opentelemetry-instrumentation-openai (OpenLLMetry), content in the
                 gen_ai.input/output.messages span attributes
  traceloop-events
                 the same with use_attributes=False: content as semconv 1.36 log-record
                 events (gen_ai.user.message, gen_ai.choice...)
Environment as for the Node programs (see ../telemetry.mjs): OTEL_EXPORTER_OTLP_ENDPOINT,
OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_EXPORTER_OTLP_HEADERS, FAKE_OPENAI_BASE_URL, CAPTURE_CONTENT.
Prints one JSON line: the trace id of every scenario run. Exits 1 when an export failed.
"""

import json
import logging
import os
import sys
from contextlib import contextmanager
from types import SimpleNamespace

LIBRARY = sys.argv[1]
CAPTURE = os.environ.get("CAPTURE_CONTENT") != "false"

# Each library's documented switches, set as an operator would before it loads.
if LIBRARY == "openai-v2":
    os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
    os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = (
        "span_only" if CAPTURE else "no_content"
    )
elif LIBRARY in ("traceloop", "traceloop-events"):
    os.environ["TRACELOOP_TRACE_CONTENT"] = str(CAPTURE).lower()

from opentelemetry import _logs, trace  # noqa: E402
from opentelemetry.sdk._logs import LoggerProvider  # noqa: E402
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor  # noqa: E402
from opentelemetry.sdk.resources import Resource  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: E402
from opentelemetry.trace import SpanKind  # noqa: E402

PROTOCOL = os.environ["OTEL_EXPORTER_OTLP_PROTOCOL"]
if PROTOCOL == "grpc":
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
elif PROTOCOL == "http/json":
    from opentelemetry.exporter.otlp.json.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter
else:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter


class _ExportErrors(logging.Handler):
    """Export failures surface only as log records: count them."""

    count = 0

    def emit(self, record):
        _ExportErrors.count += 1
        print(f"[otel error] {record.getMessage()}", file=sys.stderr)


logging.getLogger("opentelemetry").addHandler(_ExportErrors(level=logging.ERROR))

resource = Resource.create({"service.name": "travel-agent"})
tracer_provider = TracerProvider(resource=resource)
tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
trace.set_tracer_provider(tracer_provider)
logger_provider = LoggerProvider(resource=resource)
logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
_logs.set_logger_provider(logger_provider)

if LIBRARY == "openai-v2":
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
elif LIBRARY == "openinference":
    from openinference.instrumentation import TraceConfig, using_metadata, using_session
    from openinference.instrumentation.openai import OpenAIInstrumentor

    # OpenInference records content unless told to hide it.
    TRACE_CONFIG = TraceConfig(hide_inputs=not CAPTURE, hide_outputs=not CAPTURE)
elif LIBRARY in ("traceloop", "traceloop-events"):
    from opentelemetry.instrumentation.openai import OpenAIInstrumentor
else:
    sys.exit(f"unknown library {LIBRARY}")

if LIBRARY == "openinference":
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider, config=TRACE_CONFIG)
elif LIBRARY == "traceloop-events":
    OpenAIInstrumentor(use_attributes=False).instrument(
        tracer_provider=tracer_provider, logger_provider=logger_provider
    )
else:
    OpenAIInstrumentor().instrument(tracer_provider=tracer_provider)

import openai  # noqa: E402

client = openai.OpenAI(
    base_url=os.environ["FAKE_OPENAI_BASE_URL"], api_key="sk-test", max_retries=0
)
tracer = trace.get_tracer("travel-agent", "0.1.0")

MODEL = "gpt-4o-mini"
SYSTEM = "You are a concise travel assistant."
WEATHER_REPORT = '{"temperature_c":12,"conditions":"cloudy"}'
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}
# The same tool as the Responses API takes it: flat, no "function" wrapper.
WEATHER_FUNCTION = {"type": "function", **WEATHER_TOOL["function"]}
CAPITAL_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
    "required": ["city", "country"],
    "additionalProperties": False,
}


def user(content):
    return {"role": "user", "content": content}


# The spans each ecosystem's agent frameworks open around calls and tool executions.


@contextmanager
def scenario_spans(name):
    if LIBRARY == "openinference":
        with using_session(f"conversation-{name}"), using_metadata({"user_tier": "pro"}):
            with tracer.start_as_current_span(
                "travel-agent", attributes={"openinference.span.kind": "AGENT"}
            ) as agent, tracer.start_as_current_span(
                name, attributes={"openinference.span.kind": "CHAIN"}
            ):
                yield agent
    elif LIBRARY.startswith("traceloop"):
        association = {
            "traceloop.association.properties.session_id": f"conversation-{name}",
            "traceloop.association.properties.user_id": "user-7",
        }
        entity = {"traceloop.workflow.name": "trip-planner", **association}
        with tracer.start_as_current_span(
            "trip-planner.workflow",
            attributes={
                "traceloop.span.kind": "workflow",
                "traceloop.entity.name": "trip-planner",
                **entity,
            },
        ) as workflow, tracer.start_as_current_span(
            f"{name}.task",
            attributes={"traceloop.span.kind": "task", "traceloop.entity.name": name, **entity},
        ):
            yield workflow
    else:
        with tracer.start_as_current_span(
            "invoke_agent travel-agent",
            kind=SpanKind.INTERNAL,
            attributes={
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.provider.name": "openai",
                "gen_ai.agent.id": "agent-travel-1",
                "gen_ai.agent.name": "travel-agent",
                "gen_ai.conversation.id": f"conversation-{name}",
            },
        ) as agent:
            yield agent


def run_tool(call):
    """Runs the tool of a chat completion's tool call (`id`, `function.name`, `.arguments`)."""
    if LIBRARY == "openinference":
        attributes = {
            "openinference.span.kind": "TOOL",
            "tool.name": call.function.name,
            "input.value": call.function.arguments,
        }
    elif LIBRARY.startswith("traceloop"):
        attributes = {
            "traceloop.span.kind": "tool",
            "traceloop.entity.name": call.function.name,
            "traceloop.workflow.name": "trip-planner",
        }
    else:
        attributes = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": call.function.name,
            "gen_ai.tool.call.id": call.id,
            "gen_ai.tool.type": "function",
        }
    name = (
        f"execute_tool {call.function.name}"
        if LIBRARY == "openai-v2"
        else call.function.name
    )
    with tracer.start_as_current_span(name, attributes=attributes):
        return WEATHER_REPORT


def chat():
    client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "system", "content": SYSTEM}, user("What is the capital of Norway?")],
        temperature=0.2,
        top_p=0.9,
        max_tokens=64,
        stop=["END"],
        seed=42,
        presence_penalty=0.1,
        frequency_penalty=0.2,
    )


def tools():
    messages = [user("What is the weather in Oslo right now?")]
    first = client.chat.completions.create(
        model=MODEL, messages=messages, tools=[WEATHER_TOOL], tool_choice="auto"
    )
    request = first.choices[0].message
    call = request.tool_calls[0]
    result = run_tool(call)
    client.chat.completions.create(
        model=MODEL,
        messages=[
            *messages,
            request.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": result},
        ],
        tools=[WEATHER_TOOL],
    )


def stream():
    chunks = client.chat.completions.create(
        model=MODEL,
        messages=[user("Name the capital of Norway in one sentence.")],
        stream=True,
        stream_options={"include_usage": True},
    )
    for _chunk in chunks:
        pass


def json_answer():
    client.chat.completions.create(
        model=MODEL,
        messages=[user("Return the capital of Norway as JSON.")],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "capital", "strict": True, "schema": CAPITAL_SCHEMA},
        },
    )


def responses():
    """The tool round trip through the Responses API, as in ../openai-scenarios.mjs."""
    request = [user("What is the weather in Oslo right now?")]
    first = client.responses.create(
        model=MODEL,
        instructions=SYSTEM,
        input=request,
        tools=[WEATHER_FUNCTION],
        tool_choice="auto",
    )
    call = next(item for item in first.output if item.type == "function_call")
    function = SimpleNamespace(name=call.name, arguments=call.arguments)
    result = run_tool(SimpleNamespace(id=call.call_id, function=function))
    client.responses.create(
        model=MODEL,
        instructions=SYSTEM,
        input=[
            *request,
            *(item.model_dump(exclude_none=True) for item in first.output),
            {"type": "function_call_output", "call_id": call.call_id, "output": result},
        ],
        tools=[WEATHER_FUNCTION],
    )


def error():
    try:
        client.chat.completions.create(model="fail-500", messages=[user("This call fails.")])
    except openai.InternalServerError:
        pass


SCENARIOS = {
    "chat": chat,
    "tools": tools,
    "stream": stream,
    "json": json_answer,
    "responses": responses,
    "error": error,
}
chosen = SCENARIOS.items() if CAPTURE else [("capture-off", chat)]
traces = {}
for name, run in chosen:
    with scenario_spans(name) as root:
        traces[name] = format(root.get_span_context().trace_id, "032x")
        run()

tracer_provider.shutdown()
logger_provider.shutdown()
print(json.dumps({"traces": traces}))
sys.exit(1 if _ExportErrors.count > 0 else 0)
