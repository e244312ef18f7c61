"""The task definition schema (docs/engine.md, "Step kinds") and its checks.

This module is the registry of step kinds: each kind has a config model here, and the
`Step` union below is the one list of them (`STEP_MODELS` is derived from it); the
engine executes them (runhook.engine.steps). Validation collects every problem so a
400 can list them all. For cold starts: the models build their schemas on first use
(`defer_build`), and jsonschema and the template checks are imported only when a
definition or inputs are validated (the API), not when a stored task is read.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from runhook.models import MAX_TAGS, Tag

if TYPE_CHECKING:
    from datetime import datetime

    from jsonschema.protocols import Validator

    from runhook.schedules import Recurrence

STEP_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_STEPS = 100
DEFAULT_INPUTS: dict[str, Any] = {"type": "object"}
DEFAULT_TIMEOUT_SECONDS = 3600


# Validation of a definition a caller sends (the API), as opposed to one read back from the
# table: bounds added after tasks were first stored apply only to what is sent.
WRITE = {"write": True}


def sent_bounds(*, ge: float | None = None, le: float | None = None) -> tuple[Any, Any]:
    """A number's bounds added after tasks were first stored: stated in the schema and
    enforced on what a caller sends, not on stored tasks (they must stay readable).
    The two items go into the number's `Annotated[...]`."""

    def check(value: Any, info: ValidationInfo) -> Any:
        if value is None or not (info.context or {}).get("write"):
            return value
        if ge is not None and value < ge:
            raise ValueError(f"must be at least {ge}")
        if le is not None and value > le:
            raise ValueError(f"must be at most {le}")
        return value

    schema: dict[str, Any] = {
        name: v for name, v in (("minimum", ge), ("maximum", le)) if v is not None
    }
    return AfterValidator(check), Field(json_schema_extra=schema)


_STATUS_CHECK, _STATUS_SCHEMA = sent_bounds(ge=100, le=599)
_ACTION_TIMEOUT_CHECK, _ACTION_TIMEOUT_SCHEMA = sent_bounds(ge=0.1)


class StepConfig(BaseModel):
    """What every step has; each kind's model adds its own fields and narrows `type`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)

    type: str
    id: str
    name: str | None = Field(default=None, max_length=200)
    timeoutSeconds: int | None = Field(default=None, ge=1, le=86400)

    def templates(self) -> list[tuple[str, str]]:
        """(field path, template source) pairs to compile-check."""
        return []

    def expressions(self) -> list[tuple[str, str]]:
        return []


class Retry(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    maxAttempts: int = Field(default=1, ge=1, le=10, description="Attempts in all (1: no retry)")
    backoffSeconds: float = Field(
        default=1.0, ge=0, le=300, allow_inf_nan=False, description="Delay before the 2nd attempt"
    )
    backoffRate: float = Field(
        default=2.0, ge=1, le=10, allow_inf_nan=False, description="Factor between delays"
    )


def string_leaves(value: Any, path: str) -> list[tuple[str, str]]:
    """Every string inside `value` (nested dicts and lists) with its field path from `path`
    (`headers.X`, `json.items[0].name`): where templates may stand."""
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in string_leaves(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [t for i, v in enumerate(value) for t in string_leaves(v, f"{path}[{i}]")]
    return []


class HttpStep(StepConfig):
    type: Literal["http"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    url: str = Field(min_length=1, max_length=4096)
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, str] = Field(default_factory=dict)
    json_: Any = Field(default=None, alias="json")
    body: str | None = None
    expectedStatus: list[Annotated[int, _STATUS_CHECK, _STATUS_SCHEMA]] | None = None
    retry: Retry | None = None

    @model_validator(mode="after")
    def _one_body(self) -> HttpStep:
        if self.json_ is not None and self.body is not None:
            raise ValueError("give either json or body, not both")
        return self

    def templates(self) -> list[tuple[str, str]]:
        return [
            ("url", self.url),
            *string_leaves(self.headers, "headers"),
            *string_leaves(self.query, "query"),
            *string_leaves(self.json_, "json"),
            *string_leaves(self.body, "body"),
        ]


class TransformStep(StepConfig):
    type: Literal["transform"]
    values: dict[str, str] = Field(min_length=1)

    def expressions(self) -> list[tuple[str, str]]:
        return [(f"values.{k}", v) for k, v in self.values.items()]


class WaitStep(StepConfig):
    type: Literal["wait"]
    seconds: int | None = Field(default=None, ge=0, le=31_536_000)
    until: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> WaitStep:
        if (self.seconds is None) == (self.until is None):
            raise ValueError("give exactly one of seconds or until")
        return self

    def templates(self) -> list[tuple[str, str]]:
        return [("until", self.until)] if self.until else []


class ApprovalStep(StepConfig):
    type: Literal["approval"]
    prompt: str = Field(min_length=1, max_length=4096)

    def templates(self) -> list[tuple[str, str]]:
        return [("prompt", self.prompt)]


class FailStep(StepConfig):
    type: Literal["fail"]
    message: str = Field(default="failed", max_length=4096)
    code: str = Field(default="failed", pattern=r"^[a-z][a-z0-9_]{0,63}$")

    def templates(self) -> list[tuple[str, str]]:
        return [("message", self.message)]


class LogStep(StepConfig):
    type: Literal["log"]
    message: str = Field(max_length=16384)
    level: Literal["info", "warning", "error"] = "info"

    def templates(self) -> list[tuple[str, str]]:
        return [("message", self.message)]


# -- browser (runhook.engine.steps.browser) ------------------------------------------------
ARTIFACT_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
MAX_BROWSER_ACTIONS = 100


class _BrowserAction(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)

    # At least 0.1 s when sent: a timeout that rounds to 0 ms means "no timeout" to Playwright.
    timeoutSeconds: (
        Annotated[
            float,
            Field(gt=0, le=300, allow_inf_nan=False),
            _ACTION_TIMEOUT_CHECK,
            _ACTION_TIMEOUT_SCHEMA,
        ]
        | None
    ) = None
    # Run the action only if this selector is visible when its turn comes (checked at
    # once, no waiting): how a task skips its login actions when a saved session
    # (`BrowserStep.session`) is still signed in.
    ifVisible: str | None = Field(default=None, min_length=1, max_length=2048)


class GotoAction(_BrowserAction):
    action: Literal["goto"]
    url: str = Field(min_length=1, max_length=4096)
    waitUntil: Literal["load", "domcontentloaded", "networkidle", "commit"] = "load"


class ClickAction(_BrowserAction):
    action: Literal["click"]
    selector: str = Field(min_length=1, max_length=2048)


class FillAction(_BrowserAction):
    action: Literal["fill"]
    selector: str = Field(min_length=1, max_length=2048)
    value: str = Field(max_length=65536)


class SelectAction(_BrowserAction):
    action: Literal["select"]
    selector: str = Field(min_length=1, max_length=2048)
    value: str | list[str] = Field(max_length=1024)


class PressAction(_BrowserAction):
    action: Literal["press"]
    selector: str = Field(min_length=1, max_length=2048)
    key: str = Field(min_length=1, max_length=64)


class WaitForAction(_BrowserAction):
    action: Literal["wait_for"]
    selector: str = Field(min_length=1, max_length=2048)
    state: Literal["visible", "attached", "hidden"] = "visible"


class ExtractAction(_BrowserAction):
    action: Literal["extract"]
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    selector: str = Field(min_length=1, max_length=2048)
    from_: Literal["text", "html", "attribute"] = Field(default="text", alias="from")
    attribute: str | None = Field(default=None, min_length=1, max_length=256)
    all: bool = False

    @model_validator(mode="after")
    def _attribute(self) -> ExtractAction:
        if (self.from_ == "attribute") != (self.attribute is not None):
            raise ValueError('give `attribute` exactly when `from` is "attribute"')
        return self


class ScreenshotAction(_BrowserAction):
    action: Literal["screenshot"]
    name: str = Field(pattern=ARTIFACT_NAME)
    fullPage: bool = True


BrowserAction = Annotated[
    GotoAction
    | ClickAction
    | FillAction
    | SelectAction
    | PressAction
    | WaitForAction
    | ExtractAction
    | ScreenshotAction,
    Field(discriminator="action"),
]


BROWSER_SESSION_NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class BrowserStep(StepConfig):
    """Actions run in order in one headless Chromium context (no arbitrary JavaScript)."""

    type: Literal["browser"]
    actions: list[BrowserAction] = Field(min_length=1, max_length=MAX_BROWSER_ACTIONS)
    retry: Retry | None = None
    # A named session of the organization: its saved storage state (cookies, local
    # storage) is loaded before the first action and saved when the step succeeds.
    session: str | None = Field(default=None, pattern=BROWSER_SESSION_NAME)
    # Debugging records saved as artifacts: a network HAR (no bodies), a Playwright trace.
    record: list[Literal["har", "trace"]] = Field(default_factory=list, max_length=2)

    @model_validator(mode="after")
    def _unique_names(self) -> BrowserStep:
        for kind in ("extract", "screenshot"):
            names = [getattr(a, "name", "") for a in self.actions if a.action == kind]
            duplicates = sorted({n for n in names if names.count(n) > 1})
            if duplicates:
                raise ValueError(f"duplicate {kind} names: {', '.join(duplicates)}")
        return self

    def templates(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for i, action in enumerate(self.actions):
            if isinstance(action, GotoAction):
                out.append((f"actions[{i}].url", action.url))
            elif isinstance(action, FillAction):
                out.append((f"actions[{i}].value", action.value))
            elif isinstance(action, SelectAction):
                out.extend(string_leaves(action.value, f"actions[{i}].value"))
        return out


Step = Annotated[
    HttpStep | TransformStep | WaitStep | ApprovalStep | FailStep | LogStep | BrowserStep,
    Field(discriminator="type"),
]


def kind_name(model: type[StepConfig]) -> str:
    """The kind a config model configures (its `type` literal), e.g. HttpStep → "http"."""
    (name,) = get_args(model.model_fields["type"].annotation)
    return str(name)


# Kind name → config model, derived from the union above (the one list of kinds).
STEP_MODELS: dict[str, type[StepConfig]] = {
    kind_name(model): model for model in get_args(get_args(Step)[0])
}


# -- schedule (runhook.schedules; docs/schedules.md) ------------------------------------------
class ScheduleDefinition(BaseModel):
    """When the task runs by itself: a cron expression in a time zone, or a rate.

    Only the shape is checked here; whether the expression, the time zone, the interval
    and the inputs are usable is `schedule_problems` (a 400 `invalid_schedule`), so a
    stored schedule always loads.
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)

    cron: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="Five cron fields (minute hour day-of-month month day-of-week)",
        examples=["0 9 * * MON-FRI"],
    )
    rate: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description='"every N minutes|hours|days" or "rate(N minutes)"',
        examples=["every 15 minutes"],
    )
    timezone: str = Field(
        default="UTC", min_length=1, max_length=64, description="IANA time zone of `cron`"
    )
    inputs: dict[str, Any] | None = Field(
        default=None, description="Inputs of the scheduled runs (checked like a run's)"
    )
    enabled: bool = Field(default=True, description="False: paused (nothing fires)")
    overlap: Literal["skip", "allow"] = Field(
        default="skip",
        description="skip: no new run while the previous scheduled run is still active",
    )

    def recurrence(self) -> Recurrence:
        """The parsed expression (raises runhook.schedules.ScheduleError)."""
        from runhook.schedules import Recurrence

        return Recurrence.parse(cron=self.cron, rate=self.rate, timezone=self.timezone)


def _legacy_schedule(value: Any, info: ValidationInfo) -> Any:
    """The schedule as a plain string (how tasks stored it before schedules fired): a rate
    if it reads like one, else cron in UTC. A stored one loads paused (it never fired);
    one sent now means "run on this schedule"."""
    if not isinstance(value, str):
        return value
    form = "rate" if value.strip().lower().startswith(("rate(", "every ")) else "cron"
    return {form: value, "enabled": bool((info.context or {}).get("write"))}


class _DefinitionFields(BaseModel):
    """Everything of a definition but its steps."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=4096)
    tags: list[Tag] = Field(  # issue 14: merged into each run's own tags
        default_factory=list, max_length=MAX_TAGS, description="Default tags of its runs"
    )
    inputs: dict[str, Any] = Field(default_factory=lambda: dict(DEFAULT_INPUTS))
    outputs: dict[str, str] = Field(default_factory=dict)
    timeoutSeconds: int = Field(default=DEFAULT_TIMEOUT_SECONDS, ge=1, le=31_536_000)
    schedule: Annotated[ScheduleDefinition | None, BeforeValidator(_legacy_schedule)] = None


class TaskDefinition(_DefinitionFields):
    """A validated task: its steps are their kinds' config models.

    Defaults (`inputs`, `timeoutSeconds`) live here and nowhere else; `document()` is
    the JSON the API shows and the table stores.
    """

    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)

    def document(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)

    def prepare_inputs(
        self, given: dict[str, Any] | None
    ) -> tuple[dict[str, Any], list[dict[str, str]]]:
        """The run's inputs (defaults merged under `given`) and what is wrong with them."""
        merged = {**input_defaults(self.inputs), **(given or {})}
        return merged, validate_inputs(self.inputs, merged)


class _Draft(_DefinitionFields):
    """What a caller sends: steps stay raw here and are checked one by one."""

    steps: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_STEPS)


def parse_step(raw: dict[str, Any]) -> StepConfig:
    """A step a caller sends, checked against every bound (stored ones are read as they are)."""
    model = STEP_MODELS[raw["type"]]
    return model.model_validate(raw, context=WRITE)


def _pydantic_errors(exc: ValidationError, prefix: str) -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        out.append({"path": f"{prefix}.{loc}" if loc else prefix, "message": err["msg"]})
    return out


def validate_definition(raw: Any) -> tuple[TaskDefinition | None, list[dict[str, str]]]:
    """Check a task definition; return it normalised, or every problem found."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    from runhook.tasks.templating import check_expression, check_template

    if not isinstance(raw, dict):
        return None, [{"path": "", "message": "a task definition is a JSON object"}]
    try:
        draft = _Draft.model_validate(raw, context=WRITE)
    except ValidationError as exc:
        return None, _pydantic_errors(exc, "task")
    errors: list[dict[str, str]] = []
    try:
        Draft202012Validator.check_schema(draft.inputs)
        if draft.inputs.get("type", "object") != "object":
            errors.append({"path": "inputs.type", "message": "the input schema must be an object"})
    except SchemaError as exc:
        errors.append({"path": "inputs", "message": f"invalid JSON Schema: {exc.message}"})
    seen: set[str] = set()
    steps: list[StepConfig] = []
    for index, raw_step in enumerate(draft.steps):
        path = f"steps[{index}]"
        kind = raw_step.get("type") if isinstance(raw_step, dict) else None
        if not isinstance(kind, str) or kind not in STEP_MODELS:  # {"type": {}} was a 500
            errors.append({"path": f"{path}.type", "message": f"unknown step kind {kind!r}"})
            continue
        try:
            step = parse_step(raw_step)
        except ValidationError as exc:
            errors.extend(_pydantic_errors(exc, path))
            continue
        if not STEP_ID.match(step.id):
            errors.append({"path": f"{path}.id", "message": "step ids are snake_case names"})
        if step.id in seen:
            errors.append({"path": f"{path}.id", "message": f"duplicate step id {step.id!r}"})
        seen.add(step.id)
        for field, source in step.templates():
            if problem := check_template(source):
                errors.append({"path": f"{path}.{field}", "message": problem})
        for field, source in step.expressions():
            if problem := check_expression(source):
                errors.append({"path": f"{path}.{field}", "message": problem})
        steps.append(step)
    for name, expression in draft.outputs.items():
        if problem := check_expression(expression):
            errors.append({"path": f"outputs.{name}", "message": problem})
    if errors:
        return None, errors
    fields = draft.model_dump(exclude={"steps"})
    return TaskDefinition.model_validate({**fields, "steps": steps}), []


def input_defaults(schema: dict[str, Any]) -> dict[str, Any]:
    """Top-level `default`s declared by the task's input schema."""
    props = schema.get("properties", {})
    if not isinstance(props, dict):
        return {}
    return {k: v["default"] for k, v in props.items() if isinstance(v, dict) and "default" in v}


def validate_inputs(schema: dict[str, Any], inputs: dict[str, Any]) -> list[dict[str, str]]:
    from jsonschema import Draft202012Validator

    validator: Validator = Draft202012Validator(schema)
    return [
        {"path": "/".join(str(p) for p in err.absolute_path), "message": err.message}
        for err in sorted(validator.iter_errors(inputs), key=lambda e: list(e.absolute_path))
    ]


def schedule_problems(
    definition: TaskDefinition, *, min_interval_seconds: float, now: datetime
) -> list[dict[str, str]]:
    """What makes a definition's schedule unusable: the expression, the time zone, fire
    times closer than `min_interval_seconds`, inputs the task would refuse."""
    from runhook.schedules import ScheduleError

    schedule = definition.schedule
    if schedule is None:
        return []
    try:
        schedule.recurrence().check_interval(min_interval_seconds, now)
    except ScheduleError as exc:
        return [{"path": f"schedule.{exc.field}", "message": exc.message}]
    _, problems = definition.prepare_inputs(schedule.inputs)
    return [
        {"path": ".".join(filter(None, ("schedule.inputs", p["path"]))), "message": p["message"]}
        for p in problems
    ]
