"""Demo data (`manage.py load_demo`, `make demo`): organizations, users, robots, tasks, trials and cost
models, so it spans every app and sits on top of them (only config is higher)."""
