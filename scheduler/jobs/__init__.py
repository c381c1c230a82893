"""The background jobs. Each is a small class with a `name` and an async `run`."""
