"""The manager's shortlist: which policy version for which task, ranked on paired results, beside its ROI."""
