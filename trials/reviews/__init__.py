"""Reviewing episodes: a person confirms or overrides the outcome a cell, agent or upload reported, with a
reason; every change is an EpisodeReview row (the audit trail). `services` writes, `selectors` reads (the
history, the review queue), `views` and `api` are the page and the REST endpoints."""
