"""SpiffWorkflow integration: parsing, snapshots and stepping."""
