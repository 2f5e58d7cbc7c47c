"""Background jobs: the APScheduler setup and its leader lock (scheduler.py), one module per job."""
