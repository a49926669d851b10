"""Drawing: Markdown that shows data literally, tables, charts, notices, one progress fragment, bound widgets."""
