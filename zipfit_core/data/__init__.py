"""Data in: where rows come from and how each row becomes one text.

    sources.py        the records: `DataSource`, `TextSpec`, `LoadOptions`, `DataRecipe`, `LoadReport`
    formats.py        what a file is (name, compression, magic bytes) and reading one: columnar formats
    text_lines.py     bytes to lines: encoding, binary refused, undecodable bytes counted, bounded lines
    text_formats.py   JSONL, JSON, CSV/TSV and .txt from those lines
    local.py          local paths, folders, globs, save_to_disk folders, and the data root's rules
    hub.py            Hugging Face Hub datasets through `datasets`, with bounded waits
    demo.py           the bundled demo data sets (files in demo_data/)
    texts.py          one text per row: a field or a template, the value policy, fingerprints
    loading.py        `load_source` / `load_recipe` / `preview_table`: every step, in order

The bottom layer with `scoring`: it imports nothing else of zipfit_core. A new file format goes here.
"""
