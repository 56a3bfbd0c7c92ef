"""Family: milestone news the patient opted in to, and encouragement back. Never clinical detail:
this package imports nothing from check-ins, skills or sharing."""
