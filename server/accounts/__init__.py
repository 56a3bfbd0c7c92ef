"""Accounts: clinics, people and roles, invitations, sign-in sessions and authorization guards."""
