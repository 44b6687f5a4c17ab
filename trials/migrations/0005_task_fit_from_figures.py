"""Recompute the stored fit of every rated task: cycle time vs takt and volume now come from the task's
own figures (issue 13 item 9), so a stored score could contradict the task's page until it is edited."""

from django.db import migrations

from core.fit import FIT_DERIVED_KEYS, FIT_FACTOR_KEYS, FitRatingError, fit_assess, fit_ratings_from_figures


def recompute(apps, schema_editor):
    Task = apps.get_model("trials", "Task")
    for task in Task.objects.exclude(fit_factors={}).iterator():
        ratings = dict(task.fit_factors or {})
        if set(ratings) != set(FIT_FACTOR_KEYS):
            continue
        try:
            ratings = {k: v for k, v in ratings.items() if k not in FIT_DERIVED_KEYS} | fit_ratings_from_figures(
                manual_cycle_time_s=task.manual_cycle_time_s,
                takt_time_s=task.takt_time_s,
                shifts_per_day=task.shifts_per_day,
                hours_per_shift=task.hours_per_shift,
                operating_days_per_year=task.operating_days_per_year,
            )
            score = fit_assess(ratings=ratings).score
        except FitRatingError:
            continue
        Task.objects.filter(pk=task.pk).update(fit_factors=ratings, fit_score=score)


class Migration(migrations.Migration):
    dependencies = [("trials", "0004_trialsourcesummary")]

    operations = [migrations.RunPython(recompute, migrations.RunPython.noop)]
