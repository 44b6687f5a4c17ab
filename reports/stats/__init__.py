"""Trial statistics read from recorded episodes (selectors: per source, per policy version, sim-to-real gap,
comparison, sequential test, acceptance, planner, and the trial and task panels), the acceptance-criteria
writes (services), and the statistics pages, API, forms and charts."""
