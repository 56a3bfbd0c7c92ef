"""Sharing: the patient's consent, weekly summaries for their therapist, the dashboard and the access log."""
