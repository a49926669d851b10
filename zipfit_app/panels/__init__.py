"""The pages' content, one module per part: a page file calls a panel in a few lines."""
