"""Steady: a companion app for people in Intensive Outpatient Programs."""
