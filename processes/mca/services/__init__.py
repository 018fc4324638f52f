"""The services behind the MCA 3.0 interfaces; importing this package registers every interface code."""

from processes.mca.services import (  # noqa: F401  (each module registers its interfaces)
    changes,
    house,
    permits,
    postal,
    registrations,
    validation,
)
