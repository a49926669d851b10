"""Jobs: background work with progress, cancel and resume, for the app and the command line.

    schedule.py        the fixed target order, rounds, and the progressive preview of a partial state
    score_job.py       one ZIP-FIT scoring job: rounds, checkpoints, following another process; `run_foreground`
    method_scores.py   `score_sources`: any method's scores through the memo, the caches, or computing
    method_runs.py     other methods' scoring on background threads
    manager.py         `JobManager`: the process's jobs, the concurrency limit, results reopened from the cache

Above `store`; beside `analysis` and `engines`, which it does not import.
"""
