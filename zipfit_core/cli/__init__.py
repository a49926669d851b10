"""The `zipfit` command line: it parses arguments, calls the layers below, and turns errors into one line.

    main.py           the parser, the commands' dispatch, error printing and exit codes
    data_options.py   --source-* / --target-* options: how SOURCE and TARGET arguments become texts
    score.py          `zipfit score` (one scores file), with --method for the baselines
    shards.py         `zipfit score ... --out FOLDER [--engine ray]` and `zipfit select` on a score folder
    select.py         `zipfit select`: cut and export
    cut_export.py     a cut from its plan and inputs, exported; what select and replay.py (--from-manifest) share
    commands.py       the `zipfit score` / `zipfit select` commands that make a cut again (the app shows them)
    scored_inputs.py  reading scores files and manifests (or a run record's scores) for compare, proxy-eval, replay
    compare.py        `zipfit compare`
    proxy_eval.py     `zipfit proxy-eval`
    cache.py          `zipfit cache list | remove | prune`
    words.py          the library's parameter names in messages, as the flags that set them

The top layer: nothing in zipfit_core imports it. A new command is a module here, registered in main.py.
"""

from zipfit_core._lazy import lazy_exports

# Imported on first use, not here (zipfit_core/_lazy.py says why).
__getattr__, __dir__ = lazy_exports(__name__, {"main": ("main",)})

__all__ = ["main"]
