"""Service-task handlers. Importing the package registers every built-in operator."""

from handlers import card_factory, elicence, housing, hrss, mca_notify, photo, population, postal, sms  # noqa: F401  (registration side effect is the point of this import)  # noqa: F401  (A2/A6 external handlers)  # noqa: F401  (A3/A8 external handlers)
from handlers.registry import DispatchError, HandlerError, dispatch, get_operator, operator, registry

__all__ = ["DispatchError", "HandlerError", "dispatch", "get_operator", "operator", "registry"]
