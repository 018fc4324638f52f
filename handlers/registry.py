"""The one dispatch point from a BPMN service-task operator name to a handler function."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from integrations.errors import IntegrationError, PermanentError, TransientError


class HandlerError(Exception):
    """A handler's own business failure: permanent, thrown as the BPMN error `code`."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}


class DispatchError(Exception):
    """A dispatch outcome the runtime acts on: transient (retry) or permanent (BPMN error/incident)."""

    def __init__(
        self,
        code: str,
        message: str,
        transient: bool,
        details: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.transient = transient
        self.details = details or {}
        self.retry_after = retry_after


@dataclass(frozen=True)
class Operator:
    """A registered operator: its handler, the clients it needs and its retry policy."""

    name: str
    func: Callable[..., dict[str, Any]]
    clients: tuple[str, ...]
    params: tuple[str, ...]
    required_params: tuple[str, ...]
    max_attempts: int | None
    backoff_seconds: float | None
    summary: str
    transactional: bool = False  # runs inside the instance's transaction (process-level operators, no I/O)


_REGISTRY: dict[str, Operator] = {}


def operator(
    name: str,
    *,
    clients: tuple[str, ...] = (),
    max_attempts: int | None = None,
    backoff_seconds: float | None = None,
    transactional: bool = False,
) -> Callable:
    """Register a handler under a BPMN operator name; its keyword-only parameters are the BPMN params.

    Handlers calling external systems run outside any transaction. `transactional=True` is for
    process-level operators (in `processes/`) that change business records: they run inside the instance's
    transaction, under its lock, and a failure rolls their writes back.
    """

    def register(func: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        if name in _REGISTRY and _REGISTRY[name].func is not func:
            raise ValueError(f"operator {name!r} registered twice")
        signature = inspect.signature(func)
        params = tuple(p for p in signature.parameters if p not in clients)
        required = tuple(p for p in params if signature.parameters[p].default is inspect.Parameter.empty)
        summary = (inspect.getdoc(func) or "").splitlines()[0] if func.__doc__ else ""
        _REGISTRY[name] = Operator(
            name, func, clients, params, required, max_attempts, backoff_seconds, summary, transactional
        )
        return func

    return register


def registry() -> Mapping[str, Operator]:
    """All registered operators (importing `handlers` registers the built-in ones)."""
    import handlers  # noqa: F401  (registers the built-in handlers on first use)

    return _REGISTRY


def get_operator(name: str) -> Operator | None:
    """The operator registered under this name, or None."""
    return registry().get(name)


def dispatch(name: str, params: dict[str, Any], clients: Mapping[str, Any]) -> dict[str, Any]:
    """Call the handler for `name` with its params and injected clients; normalize failures."""
    op = get_operator(name)
    if op is None:
        raise DispatchError("UNKNOWN_OPERATOR", f"未注册的服务操作: {name}", transient=False)
    unknown = set(params) - set(op.params)
    missing = [p for p in op.required_params if p not in params]
    if unknown or missing:
        raise DispatchError(
            "BAD_PARAMETERS",
            f"服务操作 {name} 参数不匹配",
            transient=False,
            details={"unknown": sorted(unknown), "missing": missing},
        )
    kwargs = dict(params)
    for client_name in op.clients:
        kwargs[client_name] = clients[client_name]
    try:
        result = op.func(**kwargs)
    except HandlerError as exc:
        raise DispatchError(exc.code, exc.message, transient=False, details=exc.details) from exc
    except TransientError as exc:
        raise DispatchError(exc.code, str(exc), transient=True, retry_after=exc.retry_after) from exc
    except PermanentError as exc:
        raise DispatchError(exc.code, str(exc), transient=False) from exc
    except IntegrationError as exc:  # pragma: no cover - every client raises one of the two above
        raise DispatchError(exc.code, str(exc), transient=False) from exc
    if not isinstance(result, dict):
        raise DispatchError("BAD_HANDLER_RESULT", f"服务操作 {name} 未返回字典", transient=False)
    return result
