"""The code team: its roles, and the tester that runs code — only ever in the sandbox.

Roles: ``planner``, ``coder`` and ``reviewer`` are ekklesia's built-in roles; ``tester`` is added
here. A :class:`Tester` asks its model for tests, takes the latest program a coder sent it (or the
program the task gives), runs both with the ``python_sandbox`` tool and reports ``pass`` or
``fail`` — so a pattern's gate can read the verdict. No generated code is imported or executed in
a host actor or in the driver: it runs only in the sandbox's child process.
"""

from __future__ import annotations

from collections.abc import Sequence

from ekklesia.agents.agent import Agent, Utterance
from ekklesia.agents.context import StepContext
from ekklesia.agents.roles import Role, register_role
from ekklesia.code.parsing import extract_code
from ekklesia.core.messages import AgentMessage, TaskMessage

__all__ = ["TESTER", "Tester", "latest_program"]

TESTER = register_role(
    Role(
        name="tester",
        system_prompt=(
            "You write unit tests for a Python function: plain `assert` statements that call it, "
            "taken from the problem's own examples and its edge cases, in one ```python block."
        ),
        output="verdict",
    )
)


def latest_program(inbox: Sequence[TaskMessage | AgentMessage], ctx: StepContext) -> str | None:
    """The last program a coder sent, else the program the task gives (``meta["program"]``)."""
    for message in reversed(inbox):
        if isinstance(message, AgentMessage) and ctx.roles.get(message.sender) == "coder":
            code = extract_code(message.content)
            if code is not None:
                return code
    given = ctx.task.meta.get("program")
    return given if isinstance(given, str) else None


class Tester(Agent):
    """Writes tests with its model and runs the latest program against them in the sandbox."""

    async def step(
        self, inbox: Sequence[TaskMessage | AgentMessage], ctx: StepContext
    ) -> list[Utterance]:
        reply = await ctx.complete(self.request(inbox, ctx))
        if not reply.ok:
            return [Utterance(content=reply.error or "model call failed", failed=True)]
        tests = extract_code(reply.text)
        program = latest_program(inbox, ctx)
        if tests is None or program is None:
            missing = "tests" if tests is None else "a program to test"
            return [Utterance(content=f"No {missing}.\nAnswer: fail", answer="fail")]
        ran = await ctx.call_tool("python_sandbox", code=program, tests=tests, timeout_s=10.0)
        if not ran.ok or ran.value is None:
            return [
                Utterance(content=f"The sandbox failed: {ran.error}\nAnswer: fail", answer="fail")
            ]
        verdict = "pass" if ran.value.passed else "fail"
        output = (ran.value.stderr or ran.value.stdout).strip()[-1500:]
        report = f"```python\n{tests}\n```\nThe tests {'passed' if ran.value.passed else 'failed'}."
        if output and verdict == "fail":
            report += f"\n```\n{output}\n```"
        return [Utterance(content=f"{report}\nAnswer: {verdict}", answer=verdict)]
