"""Change requests (C1 data modification, C2 business change) through one approval process.

Importing the package registers the change types and the `change.*` process-level operators.
"""

from processes.changes import (  # noqa: F401  (registers the change types and operators)
    death_list,
    flags,
    manual,
    operators,
    personal,
    production,
    rare_chars,
    undo,
)
