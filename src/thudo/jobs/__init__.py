"""Background work: periodic tasks run by `thudo jobs run` (or inside the web process)."""
