"""Process services, the engine runtime and background jobs."""
