"""Tools: typed async callables that agents call through their step context.

A :class:`Tool` wraps an async function. Its parameters become a pydantic model, so the arguments
are validated and their JSON Schema can be shown to a model (:meth:`Tool.json_schema`, in the
shape of an OpenAI function; :meth:`Tool.tool_spec` as a model request offers it) and to HTTP
clients; its return annotation says how the result is written to the timeline as JSON and read
back on replay. A parameter annotated :class:`ToolContext` is not an argument: the runtime passes
the calling agent's context there.

Every call made inside a run goes through ``ctx.call_tool`` (see
:class:`~ekklesia.agents.context.StepContext`), which records it as a ``tool_call`` event and, on
replay, returns the recorded result without running the tool. Outside a run a tool is called
directly: ``await tool(...)`` validates the arguments and runs it under the same discipline — a
timeout and a concurrency limit — and raises what the function raises.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import weakref
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast, get_type_hints

from pydantic import BaseModel, ConfigDict, JsonValue, TypeAdapter, ValidationError, create_model

from ekklesia.core.events import strip_nondeterministic
from ekklesia.core.llm import ToolSpec
from ekklesia.errors import SpecError, ToolError

__all__ = ["Tool", "ToolContext", "ToolResult", "result_digest", "tool"]

R = TypeVar("R")


@dataclass(frozen=True)
class ToolContext:
    """What a tool may know of its caller: who and where, and the agent's memory handle."""

    agent: str = ""
    run_id: str = ""
    round: int = 0
    memory: Any = None


@dataclass(frozen=True)
class ToolResult(Generic[R]):
    """What ``ctx.call_tool`` returns: the value, or the error that was recorded instead."""

    tool: str
    value: R | None
    error: str | None = None
    latency_s: float = 0.0
    cost_usd: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    def unwrap(self) -> R:
        """The value; a :class:`~ekklesia.errors.ToolError` if the call failed."""
        if self.error is not None:
            raise ToolError(f"tool {self.tool} failed: {self.error}")
        return cast(R, self.value)


def result_digest(result: JsonValue) -> str:
    """A digest of what a tool returned, wall-clock fields (``duration_s``...) left out."""
    stable = strip_nondeterministic(result)
    text = json.dumps(stable, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


class Tool(Generic[R]):
    """A typed async callable; see the module docstring.

    ``timeout_s`` bounds one call (``None``: no bound); ``concurrency`` bounds the calls in flight
    at once in one process (``None``: no bound); ``price_usd`` is what one call costs, counted by
    the budget.
    """

    def __init__(
        self,
        fn: Callable[..., Awaitable[R]],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout_s: float | None = 60.0,
        concurrency: int | None = None,
        price_usd: float = 0.0,
    ) -> None:
        if not inspect.iscoroutinefunction(fn):
            raise SpecError(f"a tool must be an async function, got {fn!r}")
        if timeout_s is not None and timeout_s <= 0:
            raise SpecError(f"tool timeout_s must be > 0, got {timeout_s}")
        if concurrency is not None and concurrency < 1:
            raise SpecError(f"tool concurrency must be >= 1, got {concurrency}")
        if price_usd < 0:
            raise SpecError(f"tool price_usd must be >= 0, got {price_usd}")
        self.fn = fn
        self.name = name or fn.__name__
        self.description = description or inspect.cleandoc(fn.__doc__ or "").split("\n\n")[0]
        self.timeout_s = timeout_s
        self.concurrency = concurrency
        self.price_usd = price_usd
        self._context_param: str | None = None
        self._args: type[BaseModel] | None = None
        self._result: TypeAdapter[R] | None = None
        self._limits: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._limits = weakref.WeakKeyDictionary()
        self._build()

    def __repr__(self) -> str:
        return f"Tool({self.name!r})"

    # pickled to host actors: the generated model and the per-loop limits are rebuilt there
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_args=None, _result=None, _limits=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._limits = weakref.WeakKeyDictionary()
        self._build()

    def _build(self) -> None:
        hints = get_type_hints(self.fn)
        fields: dict[str, Any] = {}
        for param in inspect.signature(self.fn).parameters.values():
            annotation = hints.get(param.name, Any)
            if annotation is ToolContext:
                self._context_param = param.name
                continue
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise SpecError(f"tool {self.name}: *args and **kwargs cannot be described")
            default = ... if param.default is inspect.Parameter.empty else param.default
            fields[param.name] = (annotation, default)
        self._args = create_model(
            f"{self.name}_arguments",
            __config__=ConfigDict(extra="forbid"),
            **fields,
        )
        self._result = TypeAdapter(hints.get("return", Any))

    # -- description ---------------------------------------------------------------------------

    @property
    def arguments_model(self) -> type[BaseModel]:
        assert self._args is not None
        return self._args

    def json_schema(self) -> dict[str, Any]:
        """The tool as a model or an HTTP client sees it (OpenAI's function shape)."""
        parameters = self.arguments_model.model_json_schema()
        parameters.pop("title", None)
        return {"name": self.name, "description": self.description, "parameters": parameters}

    def tool_spec(self, *, leave_out: Collection[str] = ()) -> ToolSpec:
        """The tool as offered to a model in ``LLMRequest.tools``.

        ``leave_out`` names arguments the caller fills in itself (the database a query runs on,
        a row limit): they are dropped from the parameters and from ``required``, so the model is
        never asked for them.
        """
        schema = self.json_schema()
        parameters = dict(schema["parameters"])
        if leave_out:
            unknown = sorted(set(leave_out) - set(self.arguments_model.model_fields))
            if unknown:
                raise SpecError(f"tool {self.name} has no argument {', '.join(unknown)}")
            properties = parameters.get("properties", {})
            parameters["properties"] = {k: v for k, v in properties.items() if k not in leave_out}
            required = [r for r in parameters.get("required", []) if r not in leave_out]
            parameters.pop("required", None)
            if required:
                parameters["required"] = required
        return ToolSpec(name=self.name, description=schema["description"], parameters=parameters)

    # -- calling -------------------------------------------------------------------------------

    def parse(self, arguments: Mapping[str, Any]) -> BaseModel:
        """Validated arguments; a :class:`ToolError` saying which argument is wrong."""
        try:
            return self.arguments_model.model_validate(dict(arguments))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
                for e in exc.errors()
            )
            raise ToolError(f"bad arguments for tool {self.name}: {problems}") from None

    def bind(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Positional and keyword arguments as the argument mapping, in the function's order."""
        names = list(self.arguments_model.model_fields)
        if len(args) > len(names):
            raise ToolError(f"tool {self.name} takes {len(names)} arguments, got {len(args)}")
        bound = dict(zip(names, args, strict=False))
        if twice := sorted(set(bound) & set(kwargs)):
            raise ToolError(f"tool {self.name}: {', '.join(twice)} given twice")
        return {**bound, **kwargs}

    async def invoke(self, arguments: BaseModel, context: ToolContext | None = None) -> R:
        """Run the tool on validated arguments under its timeout and concurrency limit."""
        kwargs = {name: getattr(arguments, name) for name in type(arguments).model_fields}
        if self._context_param is not None:
            kwargs[self._context_param] = context or ToolContext()
        async with self._limit():
            if self.timeout_s is None:
                return await self.fn(**kwargs)
            try:
                return await asyncio.wait_for(self.fn(**kwargs), self.timeout_s)
            except TimeoutError:
                raise ToolError(f"tool {self.name} timed out after {self.timeout_s:g} s") from None

    async def __call__(self, *args: Any, **kwargs: Any) -> R:
        """Call the tool directly, outside any run."""
        return await self.invoke(self.parse(self.bind(args, kwargs)))

    def _limit(self) -> asyncio.Semaphore | _NoLimit:
        if self.concurrency is None:
            return _NO_LIMIT
        loop = asyncio.get_running_loop()
        if loop not in self._limits:
            self._limits[loop] = asyncio.Semaphore(self.concurrency)
        return self._limits[loop]

    # -- recording -----------------------------------------------------------------------------

    def dump(self, value: R) -> JsonValue:
        """The result as JSON, as the timeline keeps it."""
        assert self._result is not None
        return cast(JsonValue, self._result.dump_python(value, mode="json"))

    def load(self, recorded: JsonValue) -> R:
        """A recorded result, as the tool returned it."""
        assert self._result is not None
        return self._result.validate_python(recorded)


class _NoLimit:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


_NO_LIMIT = _NoLimit()


def tool(
    fn: Callable[..., Awaitable[R]] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout_s: float | None = 60.0,
    concurrency: int | None = None,
    price_usd: float = 0.0,
) -> Any:
    """Make an async function a :class:`Tool`: ``@ek.tool`` or ``@ek.tool(price_usd=0.001)``."""

    def wrap(f: Callable[..., Awaitable[R]]) -> Tool[R]:
        return Tool(
            f,
            name=name,
            description=description,
            timeout_s=timeout_s,
            concurrency=concurrency,
            price_usd=price_usd,
        )

    return wrap(fn) if fn is not None else wrap
