"""Jobs: background work with progress, cancel and resume, for the app and the command line.

    work.py            one piece of background work: states, progress, cancel, `WorkStatus`; `FunctionWork`
    schedule.py        the fixed target order, rounds, and the progressive preview of a partial state
    score_job.py       one ZIP-FIT scoring job: rounds, checkpoints, following another process; `run_foreground`
    method_scores.py   `score_sources`: any method's scores through the memo, the caches, or computing; as work
    manager.py         `JobManager`: every kind of work of the process, one queue, one concurrency limit

Above `store`; beside `analysis`, which it does not import; below `engines`, which runs a shard as a score job.
"""
