"""Loaded before Django is set up (DJANGO_SETTINGS_MODULE is set here, not in pyproject, for that
reason): the test environment, through the same env-driven settings as production."""

import os

os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("SECRET_KEY", "tests-only-secret-key")
os.environ.setdefault("STATIC_MANIFEST", "0")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()
