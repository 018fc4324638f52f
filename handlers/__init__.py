"""Service-task handlers. Importing the package registers every built-in operator."""

from handlers import hrss  # noqa: F401  (registration side effect is the point of this import)
from handlers.registry import DispatchError, HandlerError, dispatch, get_operator, operator, registry

__all__ = ["DispatchError", "HandlerError", "dispatch", "get_operator", "operator", "registry"]
