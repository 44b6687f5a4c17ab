from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"

    def ready(self) -> None:
        # The task list (trials) orders by payback through the interface trials provides, since trials may
        # not import reports. Imported here because these modules load models, which needs a ready registry.
        from reports.roi.dashboard import task_payback_ranking
        from trials.rankings import payback_ranker_register

        payback_ranker_register(task_payback_ranking)
