"""The app's services: cached loaders, the one way to the job manager, scores for a run, and what the pages
compute once per scores (Explore's index, Compare's numbers, the checks). Nothing here reads the session."""
