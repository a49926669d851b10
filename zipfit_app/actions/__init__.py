"""What a user does, as plain functions: load data, open a result, start scoring, let go, set the cut, choose a
method. Each takes the session and what it needs, changes the session, and returns an `Outcome`."""
