"""Business records and their state rules; process-level (transactional) operators for the diagrams."""

from processes.domain import (  # noqa: F401  (registers the A0 permit and change operators)  # noqa: F401  (A2/A6 operators)  # noqa: F401  (A3/A8 operators)
    changes,
    deregistrations,
    endorsements,
    permits,
    photos,
    production,
    registration_rules,
    registrations,
    reissue,
)
