"""Return on investment of a task: the trial evidence (evidence), the pure inputs of core.roi (inputs), the
report of one scenario (report), every scenario (scenarios) and the cached manager dashboard (dashboard);
what the pages show (selectors), the cost-model writes (services), and the pages, API, form, charts and PDF."""
