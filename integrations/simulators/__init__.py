"""HTTP simulators of the external systems, for tests and demos (never imported by production code)."""
