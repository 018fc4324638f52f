"""Business queries (issue 7, C3): definitions, paging with masking and audit, background Excel exports.

Importing the package registers the "query_export" job kind.
"""

from processes.queries import exports  # noqa: F401  (registers the export job kind)
from processes.queries.base import QueryPage, QuerySpec, may_unmask, parse_filters, parse_page, run_query
from processes.queries.definitions import QUERIES

__all__ = ["QUERIES", "QueryPage", "QuerySpec", "may_unmask", "parse_filters", "parse_page", "run_query"]
